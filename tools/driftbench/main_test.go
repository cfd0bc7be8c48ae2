package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/pkg/drift"
)

// The generated report is valid YAML (yaml.v3 reads it) and the check's
// engine counts what the generator planted.
func TestTheReportIsValidAndCountedRight(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	want := Generate(&b, 1<<20, 7)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(b.String()), &doc))
	r, err := drift.Parse(drift.Puppet, "generated", []byte(b.String()), drift.Options{})
	require.NoError(t, err)
	require.Equal(t, drift.FormatPuppetReport, r.Format)
	require.Equal(t, want, Counts{Total: r.Total, Changed: r.Changed, Failed: r.Failed, OutOfSync: r.OutOfSync, Corrective: r.Corrective, Skipped: r.Skipped})
	require.Greater(t, want.Total, 500)
}
