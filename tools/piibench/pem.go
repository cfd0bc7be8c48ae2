package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"time"
)

// Real keys, made deterministically: since Go 1.26 crypto/rsa and
// crypto/ecdsa ignore the random source they are given, so the primes
// and scalars are drawn from the corpus's own PCG stream and the keys are
// assembled from them. The PEM text is what OpenSSL and ssh-keygen print.

// privateKeyKinds are the PEM block types planted, in rotation.
var privateKeyKinds = []string{"RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"}

// privateKeyPEM returns one key of the given PEM type, with its END line
// and no trailing newline.
func privateKeyPEM(r *rand.Rand, kind string) (string, error) {
	var der []byte
	var err error
	switch kind {
	case "RSA PRIVATE KEY":
		var k *rsa.PrivateKey
		if k, err = rsaKey(r, 1024); err == nil {
			der = x509.MarshalPKCS1PrivateKey(k)
		}
	case "PRIVATE KEY":
		var k any
		if r.IntN(2) == 0 {
			k, err = rsaKey(r, 1024)
		} else {
			k, err = ecKey(r)
		}
		if err == nil {
			der, err = x509.MarshalPKCS8PrivateKey(k)
		}
	case "EC PRIVATE KEY":
		var k *ecdsa.PrivateKey
		if k, err = ecKey(r); err == nil {
			der, err = x509.MarshalECPrivateKey(k)
		}
	case "OPENSSH PRIVATE KEY":
		return opensshKey(r), nil
	default:
		return "", fmt.Errorf("unknown key kind %q", kind)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", kind, err)
	}
	return strings.TrimSuffix(string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})), "\n"), nil
}

// publicPEM returns a "PUBLIC KEY" or "CERTIFICATE" block (a decoy: not
// a secret) with no trailing newline.
func publicPEM(r *rand.Rand, certificate bool) (string, error) {
	seed := make([]byte, ed25519.SeedSize)
	fillBytes(r, seed)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public()
	if !certificate {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return strings.TrimSuffix(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "\n"), nil
	}
	notBefore := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(300*24)) * time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetUint64(r.Uint64()),
		Subject:               pkix.Name{CommonName: pick(r, []string{"api", "www", "mail", "vpn", "grafana"}) + "." + pick(r, mailHosts).name + ".io", Organization: []string{"Vigil bench"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	// Ed25519 signatures are deterministic, so the certificate is too; the
	// reader is not used for them.
	der, err := x509.CreateCertificate(cryptorand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), "\n"), nil
}

// fillBytes fills b from the stream.
func fillBytes(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

// rsaKey assembles an RSA key from two primes drawn from r.
func rsaKey(r *rand.Rand, bits int) (*rsa.PrivateKey, error) {
	e := big.NewInt(65537)
	one := big.NewInt(1)
	for range 100 {
		p, q := prime(r, bits/2), prime(r, bits/2)
		n := new(big.Int).Mul(p, q)
		if p.Cmp(q) == 0 || n.BitLen() != bits {
			continue
		}
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			continue
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())}, D: d, Primes: []*big.Int{p, q}}
		if err := k.Validate(); err != nil {
			return nil, err
		}
		k.Precompute()
		return k, nil
	}
	return nil, errors.New("no RSA key in 100 tries")
}

// prime returns a probable prime of exactly bits bits with the top two
// bits set (so that two of them make a modulus of twice the size).
func prime(r *rand.Rand, bits int) *big.Int {
	b := make([]byte, bits/8)
	fillBytes(r, b)
	b[0] |= 0xc0
	b[len(b)-1] |= 1
	p := new(big.Int).SetBytes(b)
	two := big.NewInt(2)
	for !p.ProbablyPrime(20) {
		p.Add(p, two)
	}
	return p
}

// ecKey returns a P-256 key from a scalar drawn from r.
func ecKey(r *rand.Rand) (*ecdsa.PrivateKey, error) {
	d := make([]byte, 32)
	for range 100 {
		fillBytes(r, d)
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("no P-256 scalar in 100 tries")
}

// opensshKey returns an unencrypted Ed25519 key in the openssh-key-v1
// format (PROTOCOL.key in OpenSSH), wrapped at 70 columns as ssh-keygen
// writes it.
func opensshKey(r *rand.Rand) string {
	seed := make([]byte, ed25519.SeedSize)
	fillBytes(r, seed)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	str := func(b []byte, s []byte) []byte {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		return append(b, s...)
	}
	pubBlob := str(str(nil, []byte("ssh-ed25519")), pub)
	check := r.Uint32()
	sec := binary.BigEndian.AppendUint32(nil, check)
	sec = binary.BigEndian.AppendUint32(sec, check)
	sec = str(sec, []byte("ssh-ed25519"))
	sec = str(sec, pub)
	sec = str(sec, priv)
	sec = str(sec, []byte(pick(r, firstNames)+"@"+pick(r, []string{"laptop", "build-01", "bastion"})))
	for i := byte(1); len(sec)%8 != 0; i++ {
		sec = append(sec, i)
	}
	blob := []byte("openssh-key-v1\x00")
	blob = str(blob, []byte("none"))
	blob = str(blob, []byte("none"))
	blob = str(blob, nil)
	blob = binary.BigEndian.AppendUint32(blob, 1)
	blob = str(blob, pubBlob)
	blob = str(blob, sec)
	body := base64.StdEncoding.EncodeToString(blob)
	var b strings.Builder
	b.WriteString("-----BEGIN OPENSSH PRIVATE KEY-----\n")
	for len(body) > 70 {
		b.WriteString(body[:70] + "\n")
		body = body[70:]
	}
	b.WriteString(body + "\n-----END OPENSSH PRIVATE KEY-----")
	return b.String()
}
