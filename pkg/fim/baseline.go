package fim

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/vigil-sec/vigil/pkg/sealed"
)

// The baseline format, version 1:
//
//	"VIGILFIM\n"
//	uvarint n, n bytes of header JSON (BaselineHeader)
//	per entry: 'E', uvarint n, n bytes of record
//	'T', uvarint entry count, then one byte (1 signed, 0 not) and 32 bytes:
//	HMAC-SHA256 over every byte before that flag, or zeros
//
// The key handling, the signature framing and the verification errors
// are pkg/sealed's, shared with check-host-drift; the record stream is
// this package's own, because a whole-payload envelope would hold a
// million entries in memory.
//
// A record: uvarint bytes shared with the previous path, uvarint suffix
// length, suffix; type byte; uvarints mode, uid, gid; varint size, mtime
// (ns), ctime minus mtime; uvarints inode, device, link count, rdev;
// uvarint-prefixed symlink target; byte-prefixed content digest and
// xattrs digest; uvarint-prefixed error. About 60 bytes per entry.
const (
	baselineMagic   = "VIGILFIM\n"
	baselineVersion = 1
	maxRecord       = 1 << 20
	maxHeader       = 1 << 20
)

// BaselineHeader describes a baseline.
type BaselineHeader struct {
	Version   int       `json:"version"`
	Algorithm string    `json:"algorithm"`
	Created   time.Time `json:"created"`
	Host      string    `json:"host,omitempty"`
	// Root is the file system root the paths are relative to (--root).
	Root string `json:"root,omitempty"`
	// Paths are the trees recorded.
	Paths []string `json:"paths"`
	// PolicySHA256 identifies the policy in force when recorded.
	PolicySHA256 string `json:"policy_sha256"`
	// Signed is true when the trailer holds an HMAC.
	Signed bool `json:"signed"`
}

// Errors a baseline can fail with: pkg/sealed's, so that every signed
// baseline fails the same way.
var (
	// ErrTampered means the HMAC did not verify, or a key was given for a
	// baseline that carries no signature: it must not be used.
	ErrTampered = sealed.ErrTampered
	// ErrNeedKey means the baseline is signed and no key was given.
	ErrNeedKey = sealed.ErrNeedKey
	// ErrCorrupt means the file is not a readable baseline.
	ErrCorrupt = sealed.ErrCorrupt
)

// BaselineWriter streams entries into a baseline.
type BaselineWriter struct {
	w      *bufio.Writer
	mac    hash.Hash
	prev   string
	count  uint64
	rec    []byte
	closed bool
}

// NewBaselineWriter writes the header. With a key the baseline is signed.
func NewBaselineWriter(w io.Writer, h BaselineHeader, key []byte) (*BaselineWriter, error) {
	h.Version = baselineVersion
	h.Signed = len(key) > 0
	bw := &BaselineWriter{w: bufio.NewWriterSize(w, 256<<10), mac: sealed.NewMAC(key)}
	hdr, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	buf := append([]byte(baselineMagic), binary.AppendUvarint(nil, uint64(len(hdr)))...)
	buf = append(buf, hdr...)
	if err := bw.write(buf); err != nil {
		return nil, err
	}
	return bw, nil
}

func (bw *BaselineWriter) write(b []byte) error {
	if bw.mac != nil {
		bw.mac.Write(b)
	}
	_, err := bw.w.Write(b)
	return err
}

// Write appends an entry. Entries must come in walk order.
func (bw *BaselineWriter) Write(e *Entry) error {
	if bw.count > 0 && comparePaths(bw.prev, e.Path) >= 0 {
		return fmt.Errorf("baseline entries out of order: %q after %q", Display(e.Path), Display(bw.prev))
	}
	shared := commonPrefix(bw.prev, e.Path)
	r := bw.rec[:0]
	r = binary.AppendUvarint(r, uint64(shared))             //nolint:gosec // a length, never negative
	r = binary.AppendUvarint(r, uint64(len(e.Path)-shared)) //nolint:gosec // a length, never negative
	r = append(r, e.Path[shared:]...)
	r = append(r, byte(e.Type))
	r = binary.AppendUvarint(r, uint64(e.Mode))
	r = binary.AppendUvarint(r, uint64(e.UID))
	r = binary.AppendUvarint(r, uint64(e.GID))
	r = binary.AppendVarint(r, e.Size)
	r = binary.AppendVarint(r, e.Mtime)
	r = binary.AppendVarint(r, e.Ctime-e.Mtime)
	r = binary.AppendUvarint(r, e.Ino)
	r = binary.AppendUvarint(r, e.Dev)
	r = binary.AppendUvarint(r, e.Nlink)
	r = binary.AppendUvarint(r, e.Rdev)
	r = binary.AppendUvarint(r, uint64(len(e.Target)))
	r = append(r, e.Target...)
	r = append(r, byte(len(e.Hash)))
	r = append(r, e.Hash...)
	r = append(r, byte(len(e.Xattrs)))
	r = append(r, e.Xattrs...)
	r = binary.AppendUvarint(r, uint64(len(e.Err)))
	r = append(r, e.Err...)
	bw.rec = r
	head := binary.AppendUvarint([]byte{'E'}, uint64(len(r)))
	if err := bw.write(head); err != nil {
		return err
	}
	if err := bw.write(r); err != nil {
		return err
	}
	bw.prev = e.Path
	bw.count++
	return nil
}

// Count is the number of entries written.
func (bw *BaselineWriter) Count() uint64 { return bw.count }

// Close writes the trailer and flushes. It does not close the underlying
// writer.
func (bw *BaselineWriter) Close() error {
	if bw.closed {
		return nil
	}
	bw.closed = true
	if err := bw.write(binary.AppendUvarint([]byte{'T'}, bw.count)); err != nil {
		return err
	}
	if _, err := bw.w.Write(sealed.AppendSignature(nil, bw.mac)); err != nil {
		return err
	}
	return bw.w.Flush()
}

// BaselineReader streams entries from a baseline, verifying it as it
// goes: Next returns io.EOF only after the trailer checked out.
type BaselineReader struct {
	Header BaselineHeader
	r      *bufio.Reader
	mac    hash.Hash
	prev   []byte
	count  uint64
	buf    []byte
	done   bool
	offset int64
}

// OpenBaseline reads the header. With a key, the signature must verify;
// without one, a signed baseline is refused (ErrNeedKey).
func OpenBaseline(r io.Reader, key []byte) (*BaselineReader, error) {
	br := &BaselineReader{r: bufio.NewReaderSize(r, 256<<10), mac: sealed.NewMAC(key)}
	magic := make([]byte, len(baselineMagic))
	if _, err := io.ReadFull(br.r, magic); err != nil || string(magic) != baselineMagic {
		return nil, fmt.Errorf("%w: not a check-file-integrity baseline", ErrCorrupt)
	}
	br.feed(magic)
	n, err := br.uvarint()
	if err != nil || n > maxHeader {
		return nil, fmt.Errorf("%w: bad header length", ErrCorrupt)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(br.r, hdr); err != nil {
		return nil, fmt.Errorf("%w: truncated header", ErrCorrupt)
	}
	br.feed(hdr)
	if err := json.Unmarshal(hdr, &br.Header); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrCorrupt, err)
	}
	if br.Header.Version != baselineVersion {
		return nil, fmt.Errorf("baseline format version %d; this build reads version %d (re-run --init)", br.Header.Version, baselineVersion)
	}
	if err := sealed.CheckKey(br.Header.Signed, key); err != nil {
		return nil, err
	}
	return br, nil
}

func (br *BaselineReader) feed(b []byte) {
	br.offset += int64(len(b))
	if br.mac != nil {
		br.mac.Write(b)
	}
}

// uvarint reads a uvarint from the stream, feeding its bytes to the MAC.
func (br *BaselineReader) uvarint() (uint64, error) {
	var raw [binary.MaxVarintLen64]byte
	n := 0
	for {
		c, err := br.r.ReadByte()
		if err != nil {
			return 0, err
		}
		raw[n] = c
		n++
		if c < 0x80 {
			break
		}
		if n == len(raw) {
			return 0, errors.New("varint overflow")
		}
	}
	br.feed(raw[:n])
	v, _ := binary.Uvarint(raw[:n])
	return v, nil
}

// Next returns the next entry, or io.EOF after a verified trailer.
func (br *BaselineReader) Next() (*Entry, error) {
	if br.done {
		return nil, io.EOF
	}
	tag, err := br.r.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("%w: truncated after %d entries", ErrCorrupt, br.count)
	}
	br.feed([]byte{tag})
	switch tag {
	case 'E':
	case 'T':
		return nil, br.trailer()
	default:
		return nil, fmt.Errorf("%w: unexpected byte at offset %d", ErrCorrupt, br.offset-1)
	}
	n, err := br.uvarint()
	if err != nil || n > maxRecord {
		return nil, fmt.Errorf("%w: bad record length at offset %d", ErrCorrupt, br.offset)
	}
	if cap(br.buf) < int(n) {
		br.buf = make([]byte, n)
	}
	rec := br.buf[:n]
	if _, err := io.ReadFull(br.r, rec); err != nil {
		return nil, fmt.Errorf("%w: truncated record", ErrCorrupt)
	}
	br.feed(rec)
	e, err := br.decode(rec)
	if err != nil {
		return nil, fmt.Errorf("%w: record %d: %w", ErrCorrupt, br.count+1, err)
	}
	br.count++
	return e, nil
}

func (br *BaselineReader) trailer() error {
	br.done = true
	count, err := br.uvarint()
	if err != nil {
		return fmt.Errorf("%w: truncated trailer", ErrCorrupt)
	}
	var sig [sealed.SignatureSize]byte
	if _, err := io.ReadFull(br.r, sig[:]); err != nil {
		return fmt.Errorf("%w: truncated signature", ErrCorrupt)
	}
	if err := sealed.VerifySignature(sig[:], br.mac); err != nil {
		return err
	}
	if count != br.count {
		return fmt.Errorf("%w: trailer counts %d entries, read %d", ErrCorrupt, count, br.count)
	}
	if _, err := br.r.ReadByte(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the trailer", ErrCorrupt)
	}
	return io.EOF
}

// recDecoder reads fields from one record, remembering the first error.
type recDecoder struct {
	b   []byte
	err error
}

func (d *recDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recDecoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errors.New("field longer than its record")
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *recDecoder) byte1() byte {
	b := d.bytes(1)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func (br *BaselineReader) decode(rec []byte) (*Entry, error) {
	d := &recDecoder{b: rec}
	shared := d.uvarint()
	suffix := d.bytes(d.uvarint())
	if d.err == nil && shared > uint64(len(br.prev)) {
		return nil, errors.New("path prefix longer than the previous path")
	}
	if d.err != nil {
		return nil, d.err
	}
	path := make([]byte, 0, int(shared)+len(suffix)) //nolint:gosec // shared ≤ len(br.prev), checked above
	path = append(append(path, br.prev[:shared]...), suffix...)
	e := &Entry{Path: string(path)}
	e.Type = Type(d.byte1())
	e.Mode = uint32(d.uvarint()) //nolint:gosec // written from a uint32
	e.UID = uint32(d.uvarint())  //nolint:gosec // written from a uint32
	e.GID = uint32(d.uvarint())  //nolint:gosec // written from a uint32
	e.Size = d.varint()
	e.Mtime = d.varint()
	e.Ctime = e.Mtime + d.varint()
	e.Ino = d.uvarint()
	e.Dev = d.uvarint()
	e.Nlink = d.uvarint()
	e.Rdev = d.uvarint()
	e.Target = string(d.bytes(d.uvarint()))
	if h := d.bytes(uint64(d.byte1())); len(h) > 0 {
		e.Hash = bytes.Clone(h)
	}
	if x := d.bytes(uint64(d.byte1())); len(x) > 0 {
		e.Xattrs = bytes.Clone(x)
	}
	e.Err = string(d.bytes(d.uvarint()))
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errors.New("trailing bytes in record")
	}
	if br.count > 0 && comparePaths(string(br.prev), e.Path) >= 0 {
		return nil, errors.New("entries out of order")
	}
	br.prev = path
	return e, nil
}

// comparePaths orders paths the way the walk visits them: component by
// component, so "/a/b" comes before "/a-c" although "-" < "/" in bytes.
func comparePaths(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		if ca < cb {
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
