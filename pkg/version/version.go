// Package version holds the build's version, set by the linker:
//
//	go build -ldflags "-X github.com/vigil-sec/vigil/pkg/version.Version=1.2.3 \
//	  -X github.com/vigil-sec/vigil/pkg/version.Commit=abc1234 \
//	  -X github.com/vigil-sec/vigil/pkg/version.Date=2026-11-23T10:00:00Z"
//
// The Makefile and the release tool set all three; a plain go build leaves
// the defaults, so a binary never claims a version it was not built as.
package version

// Set by -ldflags -X at build time.
var (
	// Version is the semantic version, without a leading "v".
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = "none"
	// Date is the build time, RFC 3339 UTC.
	Date = "unknown"
)

// String is what "NAME version" prints: "NAME 1.2.3 (commit abc1234, built 2026-11-23T10:00:00Z)".
func String(name string) string {
	return name + " " + Version + " (commit " + Commit + ", built " + Date + ")"
}
