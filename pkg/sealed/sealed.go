// Package sealed is the signed-state code shared by the checks whose
// baselines an intruder would like to rewrite (check-file-integrity,
// check-host-drift): the HMAC-SHA256 key handling, the signature framing,
// the verification errors and how a check reports them.
//
// Two shapes use it. A whole-payload baseline (check-host-drift) is
// written with Save and read with Load: an envelope naming the kind, the
// format version, whether it is signed, the key's id and the HMAC over
// all of them and the payload, written atomically through pkg/state. A
// streamed baseline (pkg/fim, a million records that never sit in memory
// together) keeps its own record format but signs with NewMAC, frames its
// signature with AppendSignature/VerifySignature and applies the same key
// policy with CheckKey.
//
// The key policy: a signed baseline read without a key is ErrNeedKey (the
// check cannot tell, so UNKNOWN); a signature that does not verify, or an
// unsigned baseline read while a key is configured (an intruder who lacks
// the key would rewrite it unsigned), is ErrTampered (CRITICAL: a forged
// baseline is an attack until proven otherwise); anything unreadable is
// ErrCorrupt (UNKNOWN). Outcome turns these into what a check reports.
package sealed

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"strconv"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/state"
)

// Errors a sealed file can fail with.
var (
	// ErrTampered means the HMAC did not verify, or a key was given for a
	// baseline that carries no signature: it must not be used.
	ErrTampered = errors.New("baseline signature does not verify")
	// ErrNeedKey means the baseline is signed and no key was given.
	ErrNeedKey = errors.New("baseline is signed but no HMAC key was given")
	// ErrCorrupt means the file is not a readable baseline.
	ErrCorrupt = errors.New("baseline is damaged")
	// ErrNotExist means there is no file yet.
	ErrNotExist = errors.New("no baseline")
)

// SignatureSize is the size of a framed signature: one flag byte (1
// signed, 0 not) and the 32-byte HMAC-SHA256, or zeros.
const SignatureSize = 1 + sha256.Size

// NewMAC returns the HMAC-SHA256 that signs with key, or nil without a key.
func NewMAC(key []byte) hash.Hash {
	if len(key) == 0 {
		return nil
	}
	return hmac.New(sha256.New, key)
}

// KeyID names a key without revealing it: the first 8 bytes of an HMAC
// of a fixed label, in hex. It tells an operator which key signed a
// baseline ("re-signed with another key") and is empty without a key.
func KeyID(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("vigil sealed key id v1"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// CheckKey applies the key policy to a baseline that says whether it is
// signed, before any signature is checked.
func CheckKey(signed bool, key []byte) error {
	if signed && len(key) == 0 {
		return ErrNeedKey
	}
	if !signed && len(key) > 0 {
		// A key is expected to have signed it: an unsigned baseline here
		// may be one an attacker rewrote without the key.
		return fmt.Errorf("%w: the baseline carries no signature although a key is configured", ErrTampered)
	}
	return nil
}

// AppendSignature appends the framed signature of mac (nil: unsigned).
func AppendSignature(dst []byte, mac hash.Hash) []byte {
	if mac == nil {
		return append(dst, make([]byte, SignatureSize)...)
	}
	return mac.Sum(append(dst, 1))
}

// VerifySignature checks a framed signature against mac (nil: the
// baseline was read without a key, and CheckKey already allowed that).
func VerifySignature(sig []byte, mac hash.Hash) error {
	if len(sig) != SignatureSize {
		return fmt.Errorf("%w: truncated signature", ErrCorrupt)
	}
	if mac != nil && (sig[0] != 1 || !hmac.Equal(sig[1:], mac.Sum(nil))) {
		return ErrTampered
	}
	return nil
}

// Header is the envelope of a whole-payload sealed file.
type Header struct {
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	Signed  bool   `json:"signed"`
	KeyID   string `json:"key_id,omitempty"`
	// HMAC is hex HMAC-SHA256 over kind, version, key id and payload.
	HMAC string `json:"hmac,omitempty"`
}

// envelope is the on-disk form: the header fields and the payload.
type envelope struct {
	Header
	Payload json.RawMessage `json:"payload"`
}

// mac computes the signature over everything the envelope states. The
// fields are length-prefixed so that no two envelopes sign the same bytes.
func sign(key []byte, h Header, payload []byte) string {
	m := hmac.New(sha256.New, key)
	for _, f := range []string{"vigil sealed v1", h.Kind, strconv.Itoa(h.Version), h.KeyID} {
		m.Write([]byte(strconv.Itoa(len(f)) + ":" + f))
	}
	m.Write(payload)
	return hex.EncodeToString(m.Sum(nil))
}

// Seal encodes v as JSON in a signed (with a key) envelope.
func Seal(kind string, version int, key []byte, v any) ([]byte, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", kind, err)
	}
	h := Header{Kind: kind, Version: version, Signed: len(key) > 0, KeyID: KeyID(key)}
	if h.Signed {
		h.HMAC = sign(key, h, payload)
	}
	b, err := json.Marshal(envelope{Header: h, Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", kind, err)
	}
	return append(b, '\n'), nil
}

// Unseal verifies an envelope written by Seal and decodes its payload
// into v. Errors wrap ErrCorrupt, ErrNeedKey or ErrTampered. With a key,
// the signature is checked first, over the kind and version the file
// states: an unsigned file, or one whose signature does not verify, is
// ErrTampered whatever kind or version it claims (an intruder who edits
// the version must not turn CRITICAL into UNKNOWN "re-run --init"); only
// a file that verifies and is of another kind or version gets its own
// message. Without a key, the kind and version are checked first.
func Unseal(b []byte, kind string, version int, key []byte, v any) (Header, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&env); err != nil {
		return Header{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if dec.More() {
		return Header{}, fmt.Errorf("%w: data after the envelope", ErrCorrupt)
	}
	h := env.Header
	if len(key) > 0 {
		if err := CheckKey(h.Signed, key); err != nil {
			return h, err
		}
		if want := sign(key, h, env.Payload); !hmac.Equal([]byte(want), []byte(h.HMAC)) {
			if h.KeyID != "" && h.KeyID != KeyID(key) {
				return h, fmt.Errorf("%w (signed with key %s, verified with key %s)", ErrTampered, h.KeyID, KeyID(key))
			}
			return h, ErrTampered
		}
	}
	if h.Kind != kind {
		return h, fmt.Errorf("%w: it holds %q, not %q", ErrCorrupt, h.Kind, kind)
	}
	if h.Version != version {
		return h, fmt.Errorf("format version %d; this build reads version %d (re-run --init)", h.Version, version)
	}
	if err := CheckKey(h.Signed, key); err != nil {
		return h, err
	}
	if err := json.Unmarshal(env.Payload, v); err != nil {
		// Only reachable unsigned, or with the key: a bug, not an attack.
		return h, fmt.Errorf("%w: payload: %w", ErrCorrupt, err)
	}
	return h, nil
}

// Save seals v and writes it atomically (temp, fsync, rename, 0600).
func Save(path, kind string, version int, key []byte, v any) error {
	b, err := Seal(kind, version, key, v)
	if err != nil {
		return err
	}
	return state.WriteFile(path, b)
}

// maxFile bounds what Load reads: a host baseline is kilobytes to a few
// megabytes; anything far larger is not one.
const maxFile = 256 << 20

// Load reads and verifies a file written by Save. It returns ErrNotExist
// when there is none.
func Load(path, kind string, version int, key []byte, v any) (Header, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Header{}, ErrNotExist
	}
	if err == nil && fi.Size() > maxFile {
		return Header{}, fmt.Errorf("%w: %d bytes is too large for a baseline", ErrCorrupt, fi.Size())
	}
	b, err := os.ReadFile(path) //nolint:gosec // the operator's baseline path
	if err != nil {
		return Header{}, fmt.Errorf("read: %w", err)
	}
	return Unseal(b, kind, version, key, v)
}

// Outcome is what a check reports for an error from reading a sealed
// baseline at path. A tampered baseline is a CRITICAL finding with rule
// (and a summary); a missing key or an unreadable baseline is an error,
// which makes the check UNKNOWN. keyHint names the options that give the
// key ("--hmac-key-file or VIGIL_FIM_HMAC_KEY"). With a nil err it
// returns nothing.
func Outcome(err error, path, rule, keyHint string) (tampered *finding.Finding, summary string, unknown error) {
	switch {
	case err == nil:
		return nil, "", nil
	case errors.Is(err, ErrTampered):
		return &finding.Finding{Rule: rule, Severity: finding.Critical, Object: path,
				Message: "the baseline's HMAC does not verify: it was modified, truncated or re-signed with another key; no comparison was made"},
			"baseline " + path + " failed verification: " + err.Error(), nil
	case errors.Is(err, ErrNeedKey):
		return nil, "", fmt.Errorf("baseline %s is signed: give %s to verify it", path, keyHint)
	default:
		return nil, "", fmt.Errorf("baseline %s: %w", path, err)
	}
}
