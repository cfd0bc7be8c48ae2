package enrich

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/vigil-sec/vigil/pkg/state"
)

// cacheMagic starts a cache file; the last byte is the format version.
var cacheMagic = []byte("VIGILINV\x01")

// CacheKey identifies the inventory a cache was built from. Size and
// modification time alone miss an edit that keeps both (two writes within
// one clock tick, a restored backup), so the content's SHA-256 is part of
// it; hashing a 10,000-entry inventory costs about a millisecond.
type CacheKey struct {
	Path    string
	Size    int64
	ModTime int64 // Unix nanoseconds
	SHA256  [sha256.Size]byte
}

// LoadOptions tell LoadInventory where the cache lives.
type LoadOptions struct {
	// CacheDir holds the compiled inventories; empty disables the cache.
	CacheDir string
	// Log receives cache misses and write failures at debug level.
	Log *slog.Logger
}

// LoadInventory reads the inventory at path and returns its index: from
// the cache when the cache was built from the same file (path, size,
// modification time and SHA-256 all equal), else by parsing the file and
// compiling it, then writing the cache atomically (pkg/state). A cache
// that cannot be read or written only costs time: it is logged at debug
// level, and the inventory is used all the same. An unreadable or invalid
// inventory is an *InventoryError.
func LoadInventory(path string, o LoadOptions) (*Index, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &InventoryError{Path: path, Reason: err.Error()}
	}
	f, err := os.Open(abs) //nolint:gosec // the operator's inventory file
	if err != nil {
		return nil, &InventoryError{Path: path, Reason: openReason(err)}
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, &InventoryError{Path: path, Reason: err.Error()}
	}
	if !fi.Mode().IsRegular() {
		return nil, &InventoryError{Path: path, Reason: "not a regular file"}
	}
	// One read of the size stat gave, then one more to see the end: the
	// inventory may be rewritten while we read it (the key then misses).
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, &InventoryError{Path: path, Reason: "read: " + openReason(err)}
	}
	if more, err := io.ReadAll(f); err != nil {
		return nil, &InventoryError{Path: path, Reason: "read: " + openReason(err)}
	} else if len(more) > 0 {
		data = append(data, more...)
	}
	key := CacheKey{Path: abs, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), SHA256: sha256.Sum256(data)}

	var cachePath string
	if o.CacheDir != "" {
		cachePath = CachePath(o.CacheDir, abs)
		ix, err := readCache(cachePath, key)
		if err == nil {
			return ix, nil
		}
		log.Debug("inventory cache miss", "cache", cachePath, "reason", err.Error())
	}
	entries, err := ParseInventory(path, data)
	if err != nil {
		return nil, err
	}
	ix := BuildIndex(entries)
	if cachePath != "" {
		if err := writeCache(cachePath, key, ix); err != nil {
			log.Debug("inventory cache not written", "cache", cachePath, "error", err.Error())
		}
	}
	return ix, nil
}

func openReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// CachePath is the cache file of an inventory (an absolute path) in dir.
func CachePath(dir, inventory string) string {
	sum := sha256.Sum256([]byte(inventory))
	return filepath.Join(dir, "inventory-"+hex.EncodeToString(sum[:8])+".idx")
}

// castagnoli checks the index against damage (a torn disk block, a bit
// flip); the CRC-32C instruction makes it free. It is no defence against
// someone who can write the state directory, who can rewrite anything
// the sensu user owns.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// The cache file: magic, the key (path string, size, mtime, SHA-256 of
// the inventory), the CRC-32C of the index, the index.
func encodeKey(b []byte, k CacheKey) []byte {
	b = appendString(b, k.Path)
	b = binary.LittleEndian.AppendUint64(b, uint64(k.Size))    //nolint:gosec // a size is not negative
	b = binary.LittleEndian.AppendUint64(b, uint64(k.ModTime)) //nolint:gosec // round-trips through int64
	return append(b, k.SHA256[:]...)
}

func writeCache(path string, k CacheKey, ix *Index) error {
	b := append([]byte(nil), cacheMagic...)
	b = encodeKey(b, k)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(ix.Bytes(), castagnoli))
	b = append(b, ix.Bytes()...)
	return state.WriteFile(path, b)
}

// errStale says the cache was built from another version of the file.
var errStale = errors.New("built from another version of the inventory")

func readCache(path string, k CacheKey) (*Index, error) {
	b, err := os.ReadFile(path) //nolint:gosec // our own cache file
	if err != nil {
		return nil, err
	}
	want := encodeKey(append([]byte(nil), cacheMagic...), k)
	if !bytes.HasPrefix(b, want) {
		if !bytes.HasPrefix(b, cacheMagic) {
			return nil, errors.New("not a cache file of this version")
		}
		return nil, errStale
	}
	rest := b[len(want):]
	if len(rest) < 4 {
		return nil, errCorrupt
	}
	body := rest[4:]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(rest) {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	return openIndex(body)
}
