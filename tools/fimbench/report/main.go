// Command report turns the raw results of scripts/bench/fim.sh into the
// Markdown table of the README, with the targets checked.
//
//	report RESULTS.tsv SCORES.txt BASELINE_BYTES ENTRIES NPROC
package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/internal/benchkit"
)

type row struct {
	name        string
	min, median float64
	rss         int
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: report RESULTS.tsv SCORES.txt BASELINE_BYTES ENTRIES NPROC")
		os.Exit(1)
	}
	rows, err := readRows(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	scores, _ := os.ReadFile(os.Args[2])
	baseBytes, _ := strconv.ParseFloat(os.Args[3], 64)
	entries, _ := strconv.ParseFloat(os.Args[4], 64)
	get := func(prefix string) row {
		for _, r := range rows {
			if strings.HasPrefix(r.name, prefix) {
				return r
			}
		}
		return row{min: math.NaN()}
	}
	fmt.Printf("Measured with `make bench-fim` on %s CPUs (seconds: minimum / median of the runs; peak RSS over the runs).\n\n", os.Args[5])
	fmt.Println("| tool and phase | min s | median s | peak RSS MiB |")
	fmt.Println("|---|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %s | %.2f | %.2f | %.1f |\n", strings.ReplaceAll(r.name, "|", `\|`), r.min, r.median, float64(r.rss)/1024)
	}
	fmt.Println()
	fmt.Println("Mutations (one of each: content with size and mtime restored, chmod, chown, setuid added, new file, deleted file, symlink retargeted, file replaced by a directory, hard link swapped for a copy):")
	fmt.Println()
	for _, l := range strings.Split(strings.TrimSpace(string(scores)), "\n") {
		fmt.Println("- " + l)
	}
	fmt.Println()
	raw := get("raw:")
	fastestPeerCheck := math.Inf(1)
	for _, p := range []string{"aide check", "aide --workers", "tripwire check", "samhain check"} {
		for _, r := range rows {
			if strings.HasPrefix(r.name, p) && strings.HasSuffix(r.name, "check") {
				fastestPeerCheck = math.Min(fastestPeerCheck, r.min)
			}
		}
	}
	full, fast, init := get("vigil check (full)"), get("vigil check (fast)"), get("vigil init")
	aideRSS := math.Max(float64(get("aide check").rss), float64(get("aide init").rss))
	vigilRSS := math.Max(math.Max(float64(full.rss), float64(fast.rss)), float64(init.rss))
	million := math.Max(math.Max(float64(get("vigil init, 1M").rss), float64(get("vigil check (fast), 1M").rss)), float64(get("vigil check (full), 1M").rss))
	check := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	fmt.Println("| target | measured | |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| full check ≥ 5× faster than the fastest peer check | %.1f× (%.2f s vs %.2f s) | %s |\n", fastestPeerCheck/full.min, full.min, fastestPeerCheck, check(fastestPeerCheck/full.min >= 5))
	fmt.Printf("| full check within 1.5× of raw parallel sha256sum | %.2f× (%.2f s vs %.2f s) | %s |\n", full.min/raw.min, full.min, raw.min, check(full.min/raw.min <= 1.5))
	fmt.Printf("| fast check of the unchanged tree ≥ 20× faster than the fastest peer check | %.0f× (%.2f s) | %s |\n", fastestPeerCheck/fast.min, fast.min, check(fastestPeerCheck/fast.min >= 20))
	fmt.Printf("| init within 1.5× of raw parallel sha256sum | %.2f× (%.2f s) | %s |\n", init.min/raw.min, init.min, check(init.min/raw.min <= 1.5))
	fmt.Printf("| peak RSS no more than AIDE's | %.1f MiB vs %.1f MiB | %s |\n", vigilRSS/1024, aideRSS/1024, check(vigilRSS <= aideRSS))
	fmt.Printf("| 1,000,000 empty files: peak RSS below 200 MB | %.1f MB | %s |\n", million*1024/1e6, check(million*1024 < 200e6))
	fmt.Printf("| baseline size | %.0f bytes per entry | |\n", baseBytes/entries)
}

func readRows(path string) ([]row, error) {
	lines, err := benchkit.ReadTSV(path, 4, 4)
	var rows []row
	for _, p := range lines {
		minV, _ := strconv.ParseFloat(p[1], 64)
		med, _ := strconv.ParseFloat(p[2], 64)
		rss, _ := strconv.Atoi(p[3])
		rows = append(rows, row{name: p[0], min: minV, median: med, rss: rss})
	}
	return rows, err
}
