package pii

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"sync"
)

// Fingerprinter turns a detected value into a keyed fingerprint, so that
// the same value is recognised across runs and hosts that share the key
// without being stored: HMAC-SHA256(key, rule, normalised value), the
// first 16 bytes in hex. An unkeyed hash of a card number would be
// brute-forced in minutes; the key is what makes it safe to keep.
type Fingerprinter struct {
	pool sync.Pool
}

// NewFingerprinter uses key, which must hold at least 16 bytes.
func NewFingerprinter(key []byte) (*Fingerprinter, error) {
	if len(key) < 16 {
		return nil, errors.New("a fingerprint key needs at least 16 bytes")
	}
	k := append([]byte(nil), key...)
	return &Fingerprinter{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}}, nil
}

// RandomKey returns a new 32-byte key.
func RandomKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails on supported platforms
	return k
}

// Of fingerprints a match.
func (f *Fingerprinter) Of(m Match) string {
	h := f.pool.Get().(hash.Hash)
	defer f.pool.Put(h)
	h.Reset()
	h.Write([]byte(m.Rule))
	h.Write([]byte{0})
	h.Write([]byte(m.norm))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// Mask is the redaction of a match: "[REDACTED:pii.email]".
func Mask(m Match) string { return "[REDACTED:" + m.Rule + "]" }

// Token is the tokenizing redaction of a match, "[pii.email:3fa2c1d04e5b]":
// the same value gives the same token under one key, so correlation
// across events still works without the value.
func (f *Fingerprinter) Token(m Match) string { return "[" + m.Rule + ":" + f.Of(m)[:12] + "]" }
