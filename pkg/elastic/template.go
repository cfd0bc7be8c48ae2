package elastic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vigil-sec/vigil/pkg/state"
)

// TemplateVersion changes whenever Template's output does, so that an
// installed template is replaced by the new one.
const TemplateVersion = 1

// TemplateName is the name the template is installed under: the index
// prefix or the data stream.
func (t Target) TemplateName() string {
	if t.DataStream != "" {
		return t.DataStream
	}
	return t.Index
}

// Template returns the composable index template for the target's
// indices (index_patterns "INDEX-*", or the data stream itself).
//
// Mappings: ids, names, rule ids, paths and every other string the
// template does not name are keywords (ignore_above 1024: a long string is
// kept in _source but not indexed), the check output and finding messages
// are text, times are dates, and labels and annotations (of the event,
// the entity and the check) and the findings' rule-specific attributes
// are each one flattened field: their keys are chosen by whoever writes a
// check or an agent configuration, and must not grow the mapping without
// bound (Elasticsearch stops at 1000 fields per index and rejects the
// documents after that).
func (t Target) Template() []byte {
	keyword := map[string]any{"type": "keyword", "ignore_above": 1024}
	flattened := map[string]any{"type": "flattened", "ignore_above": 1024}
	meta := map[string]any{"properties": map[string]any{
		"labels": flattened, "annotations": flattened,
		"name": keyword, "namespace": keyword, "created_by": keyword,
	}}
	text := map[string]any{"type": "text"}
	date := map[string]any{"type": "date"}
	long := map[string]any{"type": "long"}
	finding := map[string]any{"properties": map[string]any{
		"rule": keyword, "severity": keyword, "object": keyword, "location": keyword,
		"message": text, "kind": keyword, "changed": keyword, "actor": keyword, "source": keyword,
		"time": date, "fingerprint": keyword, "count": long, "attrs": flattened,
	}}
	mappings := map[string]any{
		"dynamic_templates": []any{
			map[string]any{"strings_as_keywords": map[string]any{"match_mapping_type": "string", "mapping": keyword}},
		},
		"properties": map[string]any{
			"@timestamp": date,
			"vigil": map[string]any{"properties": map[string]any{
				"entity": keyword, "namespace": keyword, "check": keyword, "status": long, "state": keyword,
				"severity": keyword, "summary": text, "rules": keyword, "findings": finding,
				"findings_total": long, "occurrences": long, "metric_points": long,
			}},
			"id":       keyword,
			"metadata": meta,
			"entity": map[string]any{"properties": map[string]any{
				"metadata": meta,
			}},
			"check": map[string]any{"properties": map[string]any{
				"metadata": meta,
				"output":   text,
				"command":  keyword,
				"executed": long, "issued": long, "status": long,
			}},
			"timestamp": long,
		},
	}
	tmpl := map[string]any{
		"priority": 200, // above the built-in logs-*-* (100)
		"_meta":    map[string]any{"managed_by": "vigil handler-elasticsearch", "version": TemplateVersion},
		"template": map[string]any{
			"settings": map[string]any{"index.mapping.total_fields.limit": 2000},
			"mappings": mappings,
		},
	}
	if t.DataStream != "" {
		tmpl["index_patterns"] = []string{t.DataStream}
		tmpl["data_stream"] = map[string]any{}
	} else {
		tmpl["index_patterns"] = []string{t.Index + "-*", t.Index}
	}
	b, _ := json.Marshal(tmpl) // maps of strings and numbers always encode
	return b
}

// EnsureTemplate installs the target's template once per cluster,
// template name and TemplateVersion: a marker file in markerDir remembers
// it, so that a handler run costs no request to the cluster's master
// (delete the marker to install the template again).
func (c *Client) EnsureTemplate(ctx context.Context, t Target, markerDir string) error {
	u := *c.URL
	u.User = nil
	sum := sha256.Sum256([]byte(u.String() + "\x00" + t.TemplateName() + "\x00" + strconv.Itoa(TemplateVersion)))
	marker := filepath.Join(markerDir, "template-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	if err := c.PutTemplate(ctx, t.TemplateName(), t.Template()); err != nil {
		return err
	}
	return state.WriteFile(marker, []byte(t.TemplateName()+"\n"))
}
