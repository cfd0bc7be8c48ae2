package pii

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// Custom is a detector from a YAML file:
//
//	detectors:
//	  - name: employee_id          # rule "custom.employee_id"
//	    pattern: 'EMP-[0-9]{6}'    # RE2 syntax
//	    validator: none            # none, luhn (digits of the match) or mod97 (IBAN rules)
//	    severity: high
//
// Custom detectors use Go's regexp: they cost far more than the built-in
// ones and run only when configured.
type Custom struct {
	// Rule is "custom." and the detector's name.
	Rule string
	// Severity rates its findings.
	Severity  finding.Severity
	re        *regexp.Regexp
	validator string
}

// LoadCustom reads custom detectors; unknown keys and validators are
// errors. An empty path means none.
func LoadCustom(path string) ([]*Custom, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path) //nolint:gosec // the operator's detector file
	if err != nil {
		return nil, fmt.Errorf("read detectors: %w", err)
	}
	var f struct {
		Detectors []struct {
			Name      string `yaml:"name"`
			Pattern   string `yaml:"pattern"`
			Validator string `yaml:"validator"`
			Severity  string `yaml:"severity"`
		} `yaml:"detectors"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("detectors %s: %s", path, strings.Join(strings.Fields(err.Error()), " "))
	}
	var out []*Custom
	for k, d := range f.Detectors {
		where := fmt.Sprintf("detectors %s: detector %d (%q)", path, k+1, d.Name)
		if d.Name == "" || strings.ContainsAny(d.Name, " .") {
			return nil, fmt.Errorf("%s: a name without spaces or dots is required", where)
		}
		if d.Pattern == "" {
			return nil, fmt.Errorf("%s: a pattern is required", where)
		}
		re, err := regexp.Compile(d.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: bad pattern: %w", where, err)
		}
		c := &Custom{Rule: customPrefix + d.Name, re: re, validator: d.Validator, Severity: finding.High}
		switch d.Validator {
		case "", "none", "luhn", "mod97":
		default:
			return nil, fmt.Errorf("%s: unknown validator %q (want none, luhn or mod97)", where, d.Validator)
		}
		if d.Severity != "" {
			if c.Severity, err = finding.ParseSeverity(d.Severity); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func (c *Custom) scan(data []byte, ms []Match) []Match {
	for _, loc := range c.re.FindAllIndex(data, -1) {
		v := data[loc[0]:loc[1]]
		switch c.validator {
		case "luhn":
			var buf [64]byte
			d := digitsOf(v, 0, len(v), buf[:0])
			if len(d) < 2 || !luhn(d) {
				continue
			}
		case "mod97":
			compact := bytes.ToUpper(bytes.ReplaceAll(v, []byte(" "), nil))
			if len(compact) < 5 || !mod97(compact) {
				continue
			}
		}
		ms = append(ms, Match{Rule: c.Rule, Start: loc[0], End: loc[1], Hint: c.Rule, norm: string(v)})
	}
	return ms
}
