package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Item is one line of ground-truth.jsonl (Rule set) or decoys.jsonl (Kind
// set): where the value starts (File relative to the logs directory,
// 1-based Line and byte Col) and the value exactly as it is written there.
// A raw PEM block's value spans several lines; they all belong to it.
type Item struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Rule    string `json:"rule,omitempty"`
	Kind    string `json:"kind,omitempty"`
	Variant string `json:"variant"`
	Value   string `json:"value"`
}

// lines returns how many lines the item's value spans.
func (it Item) lines() int { return 1 + strings.Count(it.Value, "\n") }

// A placer writes a whole record around value and calls l.val(value)
// exactly once.
type placer func(l *liner, value string)

// places are the ways a value can be written in each file kind; none
// where it does not fit.
type places = [nFiles][]placer

// plant is an item before it has a position.
type plant struct {
	item  Item
	place places
}

// The layout of a generated corpus.
const (
	logsDir     = "logs"
	truthFile   = "ground-truth.jsonl"
	decoysFile  = "decoys.jsonl"
	baseSizeMB  = 500 // the counts below are for this size
	writeBuffer = 4 << 20
)

// genStats summarises a generated corpus.
type genStats struct {
	bytes, lines [nFiles]int64
	planted      map[string]int
	decoys       map[string]int
}

// generate writes the corpus: the logs under dir/logs, the ground truth
// and the decoys under dir.
func generate(dir string, sizeMB int, seed uint64) (*genStats, error) {
	if sizeMB < 1 {
		return nil, fmt.Errorf("--size-mb must be at least 1, not %d", sizeMB)
	}
	logs := filepath.Join(dir, logsDir)
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, err
	}
	var target [nFiles]int64
	var estLines [nFiles]int
	for f := range nFiles {
		target[f] = int64(float64(sizeMB) * 1e6 * fileShares[f])
		estLines[f] = max(1, int(float64(target[f])/averageLine(seed, f)))
	}
	master := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	c := &catalogue{r: master, scale: float64(sizeMB) / baseSizeMB, seen: map[string]bool{}}
	if err := c.build(); err != nil {
		return nil, err
	}
	perFile := c.assign(estLines)

	st := &genStats{planted: map[string]int{}, decoys: map[string]int{}}
	var items [nFiles][]Item
	var errs [nFiles]error
	var wg sync.WaitGroup
	for f := range nFiles {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, 1000+uint64(f)))
			items[f], st.bytes[f], st.lines[f], errs[f] = writeLog(filepath.Join(logs, fileNames[f]), r, target[f], estLines[f], f, perFile[f])
		})
	}
	wg.Wait()
	for f := range nFiles {
		if errs[f] != nil {
			return nil, fmt.Errorf("write %s: %w", fileNames[f], errs[f])
		}
	}
	var truth, decoys []Item
	for f := range nFiles {
		for _, it := range items[f] {
			if it.Rule != "" {
				truth = append(truth, it)
				st.planted[it.Rule]++
			} else {
				decoys = append(decoys, it)
				st.decoys[it.Kind]++
			}
		}
	}
	if err := writeItems(filepath.Join(dir, truthFile), truth); err != nil {
		return nil, err
	}
	return st, writeItems(filepath.Join(dir, decoysFile), decoys)
}

// averageLine measures the mean background record of a file kind on a
// sample, so that the planted items can be spread over the whole file.
func averageLine(seed uint64, f int) float64 {
	l := newLiner(rand.New(rand.NewPCG(seed, 2000+uint64(f))), 1)
	const n = 4000
	total := 0
	for range n {
		l.tick()
		background(l, f)
		total += len(l.b) + 1
	}
	return float64(total) / n
}

func background(l *liner, f int) {
	switch f {
	case fAccess:
		l.accessBackground()
	case fApp:
		l.appBackground()
	default:
		l.syslogBackground()
	}
}

// writeLog writes one log file of at least target bytes, with the plants
// at spread-out records, and returns where they landed.
func writeLog(path string, r *rand.Rand, target int64, estLines, f int, plants []plant) (items []Item, written, lines int64, err error) {
	out, err := os.Create(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriterSize(out, writeBuffer)
	// Plant k goes at a random record of the k-th of len(plants) equal
	// slices of the first 97% of the expected records: one per record,
	// in order, never two on a line.
	n := len(plants)
	pos := make([]int, n)
	span := estLines * 97 / 100
	for k := range n {
		if width := span / max(n, 1); width >= 2 {
			pos[k] = k*width + r.IntN(width)
		} else {
			pos[k] = 2 * k
		}
	}
	l := newLiner(r, estLines)
	line := int64(1)
	for rec, k := 0, 0; written < target || k < n; rec++ {
		l.tick()
		if k < n && (rec >= pos[k] || written >= target) {
			p := plants[k]
			pick(r, p.place[f])(l, p.item.Value)
			it := p.item
			it.File, it.Line, it.Col = fileNames[f], int(line), l.col
			items = append(items, it)
			k++
		} else {
			background(l, f)
		}
		l.b = append(l.b, '\n')
		if _, err := w.Write(l.b); err != nil {
			return nil, 0, 0, err
		}
		written += int64(len(l.b))
		line += int64(bytes.Count(l.b, []byte{'\n'}))
	}
	return items, written, line - 1, w.Flush()
}

// writeItems writes one JSON object per line.
func writeItems(path string, items []Item) (err error) {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return w.Flush()
}

// readItems reads ground-truth.jsonl or decoys.jsonl.
func readItems(path string) ([]Item, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var items []Item
	d := json.NewDecoder(bytes.NewReader(b))
	for {
		var it Item
		if err := d.Decode(&it); err == io.EOF {
			return items, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		items = append(items, it)
	}
}

// summary prints what was generated.
func (st *genStats) summary(w io.Writer, dir string) {
	var total int64
	for f := range nFiles {
		total += st.bytes[f]
		fmt.Fprintf(w, "  %-10s %6.1f MB %9d lines\n", fileNames[f], float64(st.bytes[f])/1e6, st.lines[f])
	}
	fmt.Fprintf(w, "generated %.1f MB in %s\n", float64(total)/1e6, filepath.Join(dir, logsDir))
	np, nd := 0, 0
	for _, r := range plantedRules {
		fmt.Fprintf(w, "  planted %-26s %5d\n", r, st.planted[r])
		np += st.planted[r]
	}
	kinds := make([]string, 0, len(st.decoys))
	for k, n := range st.decoys {
		kinds = append(kinds, k)
		nd += n
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  decoy   %-26s %5d\n", k, st.decoys[k])
	}
	fmt.Fprintf(w, "%d planted items, %d decoys\n", np, nd)
}
