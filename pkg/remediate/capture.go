package remediate

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/pkg/state"
)

// Capture describes a forensic capture archive, as the audit log records
// it.
type Capture struct {
	// Path is the archive (0600, in the capture directory).
	Path string `json:"path"`
	// SHA256 is the archive's own hash.
	SHA256 string `json:"sha256"`
	// Bytes is the archive's size.
	Bytes int64 `json:"bytes"`
	// Members counts the archive's files, manifest.json included.
	Members int `json:"members"`
	// Notes are what could not be collected (a missing log, a file too
	// large to hash).
	Notes []string `json:"notes,omitempty"`
}

// Manifest is the archive's manifest.json, its last member.
type Manifest struct {
	Format    int       `json:"format"`
	Created   time.Time `json:"created"`
	Namespace string    `json:"namespace"`
	Entity    string    `json:"entity"`
	Check     string    `json:"check"`
	Action    string    `json:"action"`
	// Root is the directory read as / (--capture-root).
	Root    string           `json:"root"`
	Members []ManifestMember `json:"members"`
	Notes   []string         `json:"notes,omitempty"`
}

// ManifestMember is one file of the archive and its SHA-256.
type ManifestMember struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Process is one entry of processes.json.
type Process struct {
	PID     int    `json:"pid"`
	PPID    int    `json:"ppid"`
	Comm    string `json:"comm"`
	State   string `json:"state"`
	UID     int    `json:"uid"`
	Cmdline string `json:"cmdline"`
}

// Socket is one entry of sockets.json.
type Socket struct {
	Proto  string `json:"proto"`
	Local  string `json:"local"`
	Remote string `json:"remote"`
	State  string `json:"state"`
	UID    int    `json:"uid"`
	Inode  uint64 `json:"inode"`
}

// FileInfo is one entry of files.json: a file a finding names.
type FileInfo struct {
	Path    string    `json:"path"`
	Exists  bool      `json:"exists"`
	Type    string    `json:"type,omitempty"`
	Mode    string    `json:"mode,omitempty"`
	Size    int64     `json:"size,omitempty"`
	UID     int       `json:"uid,omitempty"`
	GID     int       `json:"gid,omitempty"`
	ModTime time.Time `json:"mtime,omitzero"`
	Link    string    `json:"link,omitempty"`
	SHA256  string    `json:"sha256,omitempty"`
	Note    string    `json:"note,omitempty"`
}

// captureJob is one capture to take.
type captureJob struct {
	root, dir string
	cfg       CaptureConfig
	facts     Facts
	event     []byte
	action    string
	now       time.Time
}

type member struct {
	name string
	data []byte
}

// maxCmdline bounds one process's command line in the capture.
const maxCmdline = 4096

// maxLogRead bounds how much of the end of a log is read for its tail.
const maxLogRead = 1 << 20

// takeCapture collects the evidence and writes the archive. An error
// means no usable archive: the action must not run.
func takeCapture(ctx context.Context, j captureJob) (*Capture, error) {
	if j.dir == "" {
		return nil, errors.New("capture: no capture directory")
	}
	var notes []string
	var members []member
	add := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("capture: encode %s: %w", name, err)
		}
		members = append(members, member{name, append(b, '\n')})
		return nil
	}
	members = append(members, member{"event.json", j.event})

	procs, err := readProcesses(j.root, j.cfg.MaxProcesses)
	if err != nil {
		return nil, fmt.Errorf("capture: process list: %w", err)
	}
	if len(procs) == j.cfg.MaxProcesses {
		notes = append(notes, fmt.Sprintf("process list cut at %d processes", j.cfg.MaxProcesses))
	}
	if err := add("processes.json", procs); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("capture: %w", context.Cause(ctx))
	}
	socks, sockNotes := readSockets(j.root)
	notes = append(notes, sockNotes...)
	if err := add("sockets.json", socks); err != nil {
		return nil, err
	}
	files, fileNotes := inspectFiles(ctx, j.root, j.facts, j.cfg)
	notes = append(notes, fileNotes...)
	if err := add("files.json", files); err != nil {
		return nil, err
	}
	for _, p := range j.cfg.AuthLogs {
		lines, err := tailLines(filepath.Join(j.root, filepath.Clean("/"+p)), j.cfg.AuthLogLines)
		if errors.Is(err, fs.ErrNotExist) {
			notes = append(notes, "auth log "+p+" does not exist")
			continue
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("auth log %s: %v", p, err))
			continue
		}
		members = append(members, member{"auth-logs/" + strings.ReplaceAll(strings.TrimPrefix(filepath.Clean("/"+p), "/"), "/", "_"), lines})
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("capture: %w", context.Cause(ctx))
	}

	man := Manifest{Format: 1, Created: j.now.UTC(), Namespace: j.facts.Namespace, Entity: j.facts.Entity, Check: j.facts.Check,
		Action: j.action, Root: j.root, Notes: notes}
	for _, m := range members {
		sum := sha256.Sum256(m.data)
		man.Members = append(man.Members, ManifestMember{Name: m.name, Size: int64(len(m.data)), SHA256: hex.EncodeToString(sum[:])})
	}
	if err := add("manifest.json", man); err != nil {
		return nil, err
	}

	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name := fmt.Sprintf("capture-%s-%s-%s-%s.tar.gz", j.now.UTC().Format("20060102T150405Z"), safeName(j.facts.Entity), safeName(j.action), hex.EncodeToString(suffix[:]))
	path := filepath.Join(j.dir, name)
	h := sha256.New()
	var size int64
	err = state.WriteFunc(path, func(w io.Writer) error {
		cw := &countWriter{w: io.MultiWriter(w, h)}
		gz := gzip.NewWriter(cw)
		tw := tar.NewWriter(gz)
		for _, m := range members {
			hdr := &tar.Header{Name: m.name, Mode: 0o600, Size: int64(len(m.data)), ModTime: j.now, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if _, err := tw.Write(m.data); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		if err := gz.Close(); err != nil {
			return err
		}
		size = cw.n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("capture: write archive: %w", err)
	}
	return &Capture{Path: path, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: size, Members: len(members), Notes: notes}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName makes s usable in a file name.
func safeName(s string) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if len(s) > 64 {
		s = s[:64]
	}
	if s == "" || s == "." || s == ".." {
		return "_"
	}
	return s
}

// readProcesses lists the processes of ROOT/proc. A missing or unreadable
// /proc is an error; a process that exits while it is read is skipped.
func readProcesses(root string, limit int) ([]Process, error) {
	proc := filepath.Join(root, "proc")
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	out := []Process{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if len(out) >= limit {
			break
		}
		p, ok := readProcess(filepath.Join(proc, e.Name()), pid)
		if ok {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no process found under %s", proc)
	}
	slices.SortFunc(out, func(a, b Process) int { return a.PID - b.PID })
	return out, nil
}

func readProcess(dir string, pid int) (Process, bool) {
	p := Process{PID: pid, UID: -1}
	stat, err := os.ReadFile(filepath.Join(dir, "stat")) //nolint:gosec // procfs under the capture root
	if err != nil {
		return p, false
	}
	// "PID (COMM) STATE PPID …"; COMM may hold spaces and parentheses.
	s := string(stat)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return p, false
	}
	p.Comm = s[open+1 : closing]
	if f := strings.Fields(s[closing+1:]); len(f) >= 2 {
		p.State = f[0]
		p.PPID, _ = strconv.Atoi(f[1])
	}
	if status, err := os.ReadFile(filepath.Join(dir, "status")); err == nil { //nolint:gosec // procfs under the capture root
		for line := range strings.SplitSeq(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					p.UID, _ = strconv.Atoi(f[0])
				}
				break
			}
		}
	}
	if cmd, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil { //nolint:gosec // procfs under the capture root
		cmd = bytes.TrimRight(cmd, "\x00")
		if len(cmd) > maxCmdline {
			cmd = cmd[:maxCmdline]
		}
		p.Cmdline = strings.ToValidUTF8(strings.ReplaceAll(string(cmd), "\x00", " "), "\uFFFD")
	}
	return p, true
}

var tcpStates = map[string]string{
	"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT",
	"07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING", "0C": "NEW_SYN_RECV",
}

// readSockets reads ROOT/proc/net/{tcp,tcp6,udp,udp6}. Missing tables
// are noted (a host without IPv6 has no tcp6).
func readSockets(root string) ([]Socket, []string) {
	out := []Socket{}
	var notes []string
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		b, err := os.ReadFile(filepath.Join(root, "proc", "net", proto)) //nolint:gosec // procfs under the capture root
		if err != nil {
			notes = append(notes, "sockets: "+proto+": "+errText(err))
			continue
		}
		socks, err := ParseSockets(proto, b)
		if err != nil {
			notes = append(notes, "sockets: "+proto+": "+err.Error())
		}
		out = append(out, socks...)
	}
	return out, notes
}

// ParseSockets parses a /proc/net/tcp-style table.
func ParseSockets(proto string, b []byte) ([]Socket, error) {
	var out []Socket
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), 1<<20)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		local, err1 := procAddr(f[1])
		remote, err2 := procAddr(f[2])
		if err := errors.Join(err1, err2); err != nil {
			return out, err
		}
		st := f[3]
		if strings.HasPrefix(proto, "tcp") {
			if n, ok := tcpStates[strings.ToUpper(st)]; ok {
				st = n
			}
		}
		uid, _ := strconv.Atoi(f[7])
		inode, _ := strconv.ParseUint(f[9], 10, 64)
		out = append(out, Socket{Proto: proto, Local: local, Remote: remote, State: st, UID: uid, Inode: inode})
	}
	return out, sc.Err()
}

// procAddr decodes "0100007F:0CEA" (IPv4) or a 32-digit IPv6 address:
// each 32-bit word in the kernel's (little-endian) byte order, the port
// in hex.
func procAddr(s string) (string, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("bad address %q", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", fmt.Errorf("bad port in %q", s)
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", fmt.Errorf("bad address %q", s)
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(ip[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10)), nil
}

// inspectFiles records the metadata and SHA-256 of the absolute paths the
// findings name (their objects), at most cfg.MaxFiles of them.
func inspectFiles(ctx context.Context, root string, f Facts, cfg CaptureConfig) ([]FileInfo, []string) {
	var paths []string
	for _, fd := range f.Findings {
		if filepath.IsAbs(fd.Object) && !slices.Contains(paths, fd.Object) {
			paths = append(paths, fd.Object)
		}
	}
	var notes []string
	if len(paths) > cfg.MaxFiles {
		notes = append(notes, fmt.Sprintf("files: %d of %d finding paths inspected (capture.max_files)", cfg.MaxFiles, len(paths)))
		paths = paths[:cfg.MaxFiles]
	}
	out := []FileInfo{}
	for _, p := range paths {
		if ctx.Err() != nil {
			notes = append(notes, "files: stopped at the deadline")
			break
		}
		out = append(out, inspectFile(root, p, cfg.MaxFileBytes))
	}
	return out, notes
}

func inspectFile(root, p string, maxBytes int64) FileInfo {
	fi := FileInfo{Path: p}
	full := filepath.Join(root, filepath.Clean("/"+p))
	st, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) {
		fi.Note = "does not exist"
		return fi
	}
	if err != nil {
		fi.Note = errText(err)
		return fi
	}
	fi.Exists = true
	fi.Mode = st.Mode().String()
	fi.Size = st.Size()
	fi.ModTime = st.ModTime().UTC()
	fi.UID, fi.GID = owner(st)
	switch {
	case st.Mode().IsRegular():
		fi.Type = "file"
	case st.IsDir():
		fi.Type = "directory"
		return fi
	case st.Mode()&fs.ModeSymlink != 0:
		fi.Type = "symlink"
		fi.Link, _ = os.Readlink(full)
		return fi
	default:
		fi.Type = "other"
		return fi
	}
	if st.Size() > maxBytes {
		fi.Note = fmt.Sprintf("not hashed: larger than %d bytes (capture.max_file_bytes)", maxBytes)
		return fi
	}
	file, err := os.Open(full) //nolint:gosec // a finding's path under the capture root, read for evidence
	if err != nil {
		fi.Note = "not hashed: " + errText(err)
		return fi
	}
	defer func() { _ = file.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(file, maxBytes+1)); err != nil {
		fi.Note = "not hashed: " + err.Error()
		return fi
	}
	fi.SHA256 = hex.EncodeToString(h.Sum(nil))
	return fi
}

// tailLines returns the last n lines of a file, reading at most
// maxLogRead bytes from its end.
func tailLines(path string, n int) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // a configured log under the capture root
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	start := max(0, st.Size()-maxLogRead)
	b, err := io.ReadAll(io.NewSectionReader(f, start, st.Size()-start))
	if err != nil {
		return nil, err
	}
	if start > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 {
		return []byte{}, nil
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return append(bytes.Join(lines, []byte("\n")), '\n'), nil
}

// errText is an error without the path a *fs.PathError repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
