// Package catalogue is the rule catalogue of the Vigil suite: for every
// rule id a check can emit (fim.modified, k8s.pod_exec, pii.email, …), a
// description, the MITRE ATT&CK techniques it is evidence of, the
// compliance references it helps evidence (CIS Kubernetes, CIS Linux, PCI
// DSS, GDPR, ISO 27001) and its default severity.
//
// The data is one YAML file, rules.yaml, embedded in the binary; its
// header says how references are chosen (never more precise than known:
// section names where benchmark numbering differs between versions).
// mutator-enrich copies entries into events, vigil-report prints them.
// Rule ids under custom. are defined by users (pkg/audit and pkg/pii rule
// files) and are not in the catalogue.
//
// The file is parsed once, on first use, and checked then: a malformed
// catalogue is a bug of this package, caught by its tests, so Lookup and
// All panic on it rather than return an error every caller must handle.
package catalogue

import (
	"bytes"
	_ "embed" // the catalogue data file
	"fmt"
	"regexp"
	"slices"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/pkg/finding"
)

//go:embed rules.yaml
var data []byte

// Data returns the catalogue file as embedded, for tools that publish it.
func Data() []byte { return bytes.Clone(data) }

// Rule is one entry of the catalogue.
type Rule struct {
	// ID is the dotted rule id findings carry.
	ID string `yaml:"id" json:"id"`
	// Check is the binary that emits it.
	Check string `yaml:"check" json:"check"`
	// Description says what the rule detected, in one sentence.
	Description string `yaml:"description" json:"description"`
	// Severity is the default severity of its findings.
	Severity finding.Severity `yaml:"severity" json:"severity"`
	// MITRE lists ATT&CK technique ids ("T1609", "T1552.007").
	MITRE []string `yaml:"mitre" json:"mitre"`
	// Compliance lists control references ("CIS Kubernetes 3.2.2",
	// "PCI DSS 10.2", "GDPR Art. 32", "ISO 27001 A.8.16").
	Compliance []string `yaml:"compliance" json:"compliance"`
	// Reserved marks an id claimed for a check that is not written yet.
	Reserved bool `yaml:"reserved,omitempty" json:"reserved,omitempty"`
}

// CustomPrefix starts the ids of user-defined rules, which the catalogue
// does not hold.
const CustomPrefix = "custom."

type file struct {
	Version int    `yaml:"version"`
	Rules   []Rule `yaml:"rules"`
}

var load = sync.OnceValues(func() ([]Rule, map[string]int) {
	rules, err := parse(data)
	if err != nil {
		panic("pkg/catalogue: " + err.Error())
	}
	idx := make(map[string]int, len(rules))
	for i, r := range rules {
		idx[r.ID] = i
	}
	return rules, idx
})

var (
	idPattern    = regexp.MustCompile(`^[a-z0-9]+(\.[a-z0-9_]+)+$`)
	mitrePattern = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
)

// parse reads and checks a catalogue file.
func parse(b []byte) ([]Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("rules.yaml: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("rules.yaml: version %d, want 1", f.Version)
	}
	seen := map[string]bool{}
	for _, r := range f.Rules {
		switch {
		case !idPattern.MatchString(r.ID):
			return nil, fmt.Errorf("rules.yaml: rule id %q is not a dotted lowercase id", r.ID)
		case seen[r.ID]:
			return nil, fmt.Errorf("rules.yaml: rule %s listed twice", r.ID)
		case r.Check == "" || r.Description == "":
			return nil, fmt.Errorf("rules.yaml: rule %s needs a check and a description", r.ID)
		}
		seen[r.ID] = true
		for _, m := range r.MITRE {
			if !mitrePattern.MatchString(m) {
				return nil, fmt.Errorf("rules.yaml: rule %s: %q is not an ATT&CK technique id", r.ID, m)
			}
		}
	}
	return f.Rules, nil
}

// Lookup returns the catalogue entry of a rule id. Custom rules (custom.…)
// and unknown ids are not found. The slices of the result are the
// caller's own.
func Lookup(id string) (Rule, bool) {
	rules, idx := load()
	i, ok := idx[id]
	if !ok {
		return Rule{}, false
	}
	return rules[i].clone(), true
}

// All returns every entry, in catalogue order (by check, then as the
// check documents them). The result is the caller's own.
func All() []Rule {
	rules, _ := load()
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = r.clone()
	}
	return out
}

func (r Rule) clone() Rule {
	r.MITRE = slices.Clone(r.MITRE)
	r.Compliance = slices.Clone(r.Compliance)
	return r
}
