// Command release builds the Sensu asset tarballs, checksums and Asset
// definitions into a directory (make assets). See internal/release.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/vigil-sec/vigil/internal/release"
)

func main() {
	version := flag.String("version", "", "version to stamp and name the assets with (required)")
	commit := flag.String("commit", "none", "git commit")
	date := flag.String("date", time.Now().UTC().Format(time.RFC3339), "build date")
	out := flag.String("out", "dist", "output directory")
	urlBase := flag.String("url-base", "", "where the tarballs will be served (default: the GitHub release of the version)")
	hostOnly := flag.Bool("host-only", false, "build only for this machine's platform")
	flag.Parse()
	root, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	if *urlBase == "" {
		*urlBase = "https://github.com/vigil-sec/vigil/releases/download/" + *version
	}
	b := release.Build{Root: root, Out: *out, Version: *version, Commit: *commit, Date: *date, URLBase: *urlBase}
	if *hostOnly {
		b.Targets = []release.Target{{OS: runtime.GOOS, Arch: runtime.GOARCH}}
	}
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		var s int64
		if _, err := fmt.Sscan(epoch, &s); err == nil {
			b.ModTime = time.Unix(s, 0).UTC()
		}
	}
	assets, err := b.Run(context.Background())
	if err != nil {
		fail(err)
	}
	names := make([]string, 0, len(assets))
	for n := range assets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("%-24s %d tarballs\n", n, len(assets[n]))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "release:", err)
	os.Exit(1)
}
