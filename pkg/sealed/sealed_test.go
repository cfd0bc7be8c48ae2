package sealed

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
)

type payload struct{ Users []string }

func TestSealedFilesVerifyAndRefuseForgeries(t *testing.T) {
	t.Parallel()
	key := []byte("k1")
	path := filepath.Join(t.TempDir(), "sub", "b.json")
	require.NoError(t, Save(path, "test", 1, key, payload{Users: []string{"alice"}}))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	var p payload
	h, err := Load(path, "test", 1, key, &p)
	require.NoError(t, err)
	require.Equal(t, []string{"alice"}, p.Users)
	require.Equal(t, KeyID(key), h.KeyID)
	require.Len(t, h.KeyID, 16)

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	cases := []struct {
		name string
		data []byte
		key  []byte
		want error
	}{
		{"an edited payload", bytes.Replace(b, []byte("alice"), []byte("alicf"), 1), key, ErrTampered},
		{"another key", b, []byte("k2"), ErrTampered},
		{"no key", b, nil, ErrNeedKey},
		{"the signature dropped", bytes.Replace(b, []byte(`"signed":true`), []byte(`"signed":false`), 1), key, ErrTampered},
		{"a truncated file", b[:len(b)/2], key, ErrCorrupt},
		{"garbage", []byte("not json"), key, ErrCorrupt},
		{"another kind", bytes.Replace(b, []byte(`"kind":"test"`), []byte(`"kind":"other"`), 1), nil, ErrCorrupt},
		// With a key, a stated kind or version the signature does not
		// cover is a forgery, not a format to re-init.
		{"the kind edited, with a key", bytes.Replace(b, []byte(`"kind":"test"`), []byte(`"kind":"other"`), 1), key, ErrTampered},
		{"the version edited, with a key", bytes.Replace(b, []byte(`"version":1`), []byte(`"version":2`), 1), key, ErrTampered},
		{"the version edited and unsigned, with a key", bytes.Replace(bytes.Replace(b, []byte(`"version":1`), []byte(`"version":9`), 1), []byte(`"signed":true`), []byte(`"signed":false`), 1), key, ErrTampered},
	}
	for _, c := range cases {
		_, err := Unseal(c.data, "test", 1, c.key, &p)
		require.ErrorIs(t, err, c.want, c.name)
	}
	_, err = Unseal(b, "test", 2, key, &p)
	require.ErrorContains(t, err, "format version 1; this build reads version 2", "a genuine older version verifies: re-init, not tampered")
	require.NotErrorIs(t, err, ErrTampered)
	_, err = Load(filepath.Join(t.TempDir(), "none"), "test", 1, key, &p)
	require.ErrorIs(t, err, ErrNotExist)

	unsigned, err := Seal("test", 1, nil, payload{})
	require.NoError(t, err)
	_, err = Unseal(unsigned, "test", 1, nil, &p)
	require.NoError(t, err)
	_, err = Unseal(unsigned, "test", 1, key, &p)
	require.ErrorIs(t, err, ErrTampered, "unsigned where a key is configured")
}

func TestStreamedSignatureFraming(t *testing.T) {
	t.Parallel()
	m := NewMAC([]byte("k"))
	m.Write([]byte("records"))
	sig := AppendSignature(nil, m)
	require.Len(t, sig, SignatureSize)
	v := NewMAC([]byte("k"))
	v.Write([]byte("records"))
	require.NoError(t, VerifySignature(sig, v))
	w := NewMAC([]byte("k"))
	w.Write([]byte("recordz"))
	require.ErrorIs(t, VerifySignature(sig, w), ErrTampered)
	require.ErrorIs(t, VerifySignature(sig[:10], v), ErrCorrupt)
	require.Nil(t, NewMAC(nil))
	require.Equal(t, make([]byte, SignatureSize), AppendSignature(nil, nil))
	require.NoError(t, CheckKey(false, nil))
	require.ErrorIs(t, CheckKey(true, nil), ErrNeedKey)
	require.ErrorIs(t, CheckKey(false, []byte("k")), ErrTampered)
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	f, summary, err := Outcome(ErrTampered, "/b", "x.tampered", "--key")
	require.NoError(t, err)
	require.Equal(t, finding.Critical, f.Severity)
	require.Equal(t, "baseline /b failed verification: baseline signature does not verify", summary)
	_, _, err = Outcome(ErrNeedKey, "/b", "x.tampered", "--key")
	require.EqualError(t, err, "baseline /b is signed: give --key to verify it")
	f, _, err = Outcome(errors.Join(ErrCorrupt), "/b", "x", "--key")
	require.Nil(t, f)
	require.ErrorIs(t, err, ErrCorrupt)
	f, _, err = Outcome(nil, "/b", "x", "--key")
	require.Nil(t, f)
	require.NoError(t, err)
}
