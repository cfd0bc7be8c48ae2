package sensuexec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"gopkg.in/yaml.v3"
)

// Resources are Sensu resource definitions as sensuctl create reads them:
// YAML or JSON documents of the form {type, api_version, metadata, spec}.
type Resources struct {
	Checks    []*corev2.CheckConfig
	Mutators  []*corev2.Mutator
	Handlers  []*corev2.Handler
	Pipelines []*corev2.Pipeline
	Assets    []*corev2.Asset
	Filters   []*corev2.EventFilter
	Secrets   []*Secret
}

// Secret is a secrets/v1 Secret: where the backend finds the value a
// check, mutator or handler names in its secrets ({name, secret}). The
// env provider reads the backend's environment variable ID; the vault
// provider reads Vault path ID.
type Secret struct {
	corev2.ObjectMeta `json:"metadata"`
	// ID is the environment variable (env) or the Vault path and key (vault).
	ID string `json:"id"`
	// Provider is env or vault.
	Provider string `json:"provider"`
}

// secretSpec is the spec of a secrets/v1 Secret document.
type secretSpec struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
}

// Validate checks a Secret as the backend would on sensuctl create.
func (s *Secret) Validate() error {
	if err := corev2.ValidateName(s.Name); err != nil {
		return fmt.Errorf("name %q: %w", s.Name, err)
	}
	switch s.Provider {
	case "env", "vault":
	default:
		return fmt.Errorf("provider %q is not env or vault", s.Provider)
	}
	if s.ID == "" {
		return errors.New("id is empty")
	}
	return nil
}

// wrapper is sensuctl's resource envelope.
type wrapper struct {
	Type       string          `json:"type"`
	APIVersion string          `json:"api_version"`
	Metadata   json.RawMessage `json:"metadata"`
	Spec       json.RawMessage `json:"spec"`
}

// LoadResources reads every document of a file and validates each
// resource as the backend would on sensuctl create.
func LoadResources(path string) (*Resources, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the caller's file
	if err != nil {
		return nil, err
	}
	r := &Resources{}
	if err := r.Add(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Add parses YAML/JSON documents and appends their resources.
func (r *Resources) Add(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		if doc == nil {
			continue
		}
		j, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		if err := r.addOne(j); err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
	}
}

func (r *Resources) addOne(j []byte) error {
	var w wrapper
	if err := json.Unmarshal(j, &w); err != nil {
		return err
	}
	var meta corev2.ObjectMeta
	if err := json.Unmarshal(w.Metadata, &meta); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if meta.Namespace == "" {
		meta.Namespace = "default"
	}
	if w.Type == "Secret" && w.APIVersion == "secrets/v1" {
		return r.addSecret(w, meta)
	}
	if w.APIVersion != "core/v2" {
		return fmt.Errorf("%s: api_version %q is not core/v2", w.Type, w.APIVersion)
	}
	var err error
	switch w.Type {
	case "CheckConfig":
		r.Checks, err = addResource(r.Checks, w, meta)
	case "Mutator":
		r.Mutators, err = addResource(r.Mutators, w, meta)
	case "Handler":
		r.Handlers, err = addResource(r.Handlers, w, meta)
	case "Pipeline":
		r.Pipelines, err = addResource(r.Pipelines, w, meta)
	case "Asset":
		r.Assets, err = addResource(r.Assets, w, meta)
	case "EventFilter":
		r.Filters, err = addResource(r.Filters, w, meta)
	default:
		return fmt.Errorf("resource type %q is not supported here", w.Type)
	}
	return err
}

// addSecret decodes a secrets/v1 Secret strictly, validates it and
// appends it.
func (r *Resources) addSecret(w wrapper, meta corev2.ObjectMeta) error {
	var spec secretSpec
	dec := json.NewDecoder(bytes.NewReader(w.Spec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("%s %s spec: %w", w.Type, meta.Name, err)
	}
	s := &Secret{ObjectMeta: meta, ID: spec.ID, Provider: spec.Provider}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s %s is invalid: %w", w.Type, meta.Name, err)
	}
	r.Secrets = append(r.Secrets, s)
	return nil
}

// resource is what every core/v2 resource type offers.
type resource[T any] interface {
	*T
	Validate() error
	SetObjectMeta(corev2.ObjectMeta)
}

// addResource decodes a spec strictly (unknown fields are errors, as in
// sensuctl), sets its metadata, validates it and appends it.
func addResource[T any, P resource[T]](list []*T, w wrapper, meta corev2.ObjectMeta) ([]*T, error) {
	v := P(new(T))
	dec := json.NewDecoder(bytes.NewReader(w.Spec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return list, fmt.Errorf("%s %s spec: %w", w.Type, meta.Name, err)
	}
	v.SetObjectMeta(meta)
	if err := v.Validate(); err != nil {
		return list, fmt.Errorf("%s %s is invalid: %w", w.Type, meta.Name, err)
	}
	return append(list, (*T)(v)), nil
}

// Check returns the named check, or nil.
func (r *Resources) Check(name string) *corev2.CheckConfig {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Mutator returns the named mutator, or nil.
func (r *Resources) Mutator(name string) *corev2.Mutator {
	for _, m := range r.Mutators {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Handler returns the named handler, or nil.
func (r *Resources) Handler(name string) *corev2.Handler {
	for _, h := range r.Handlers {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Pipeline returns the named pipeline, or nil.
func (r *Resources) Pipeline(name string) *corev2.Pipeline {
	for _, p := range r.Pipelines {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Secret returns the named secret, or nil.
func (r *Resources) Secret(name string) *Secret {
	for _, s := range r.Secrets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Filter returns the named event filter, or nil.
func (r *Resources) Filter(name string) *corev2.EventFilter {
	for _, f := range r.Filters {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Asset returns the named asset, or nil.
func (r *Resources) Asset(name string) *corev2.Asset {
	for _, a := range r.Assets {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// WorkflowResult is what one pipeline workflow did with an event.
type WorkflowResult struct {
	Pipeline, Workflow, Handler string
	// Filtered is true when a filter dropped the event.
	Filtered bool
	// Response is the handler's execution.
	Response Response
	// Err is a mutator failure or a missing resource.
	Err error
}

// Route sends an event through the pipelines its check names, workflow by
// workflow, as sensu-backend does. Filters support the built-ins
// is_incident, not_silenced and has_metrics.
func (b *Backend) Route(ctx context.Context, r *Resources, event *corev2.Event) []WorkflowResult {
	var out []WorkflowResult
	if event.Check == nil {
		return nil
	}
	for _, ref := range event.Check.Pipelines {
		p := r.Pipeline(ref.Name)
		if p == nil {
			out = append(out, WorkflowResult{Pipeline: ref.Name, Err: fmt.Errorf("pipeline %s not found", ref.Name)})
			continue
		}
		for _, wf := range p.Workflows {
			res := WorkflowResult{Pipeline: p.Name, Workflow: wf.Name}
			if wf.Handler != nil {
				res.Handler = wf.Handler.Name
			}
			if dropped, err := filtered(wf, event); err != nil || dropped {
				res.Filtered, res.Err = dropped, err
				out = append(out, res)
				continue
			}
			var m *corev2.Mutator
			if wf.Mutator != nil && wf.Mutator.Name != "json" {
				if m = r.Mutator(wf.Mutator.Name); m == nil {
					res.Err = fmt.Errorf("mutator %s not found", wf.Mutator.Name)
					out = append(out, res)
					continue
				}
			}
			h := r.Handler(res.Handler)
			if h == nil {
				res.Err = fmt.Errorf("handler %s not found", res.Handler)
				out = append(out, res)
				continue
			}
			res.Response, res.Err = b.Pipeline(ctx, m, h, event)
			out = append(out, res)
		}
	}
	return out
}

func filtered(wf *corev2.PipelineWorkflow, event *corev2.Event) (bool, error) {
	for _, f := range wf.Filters {
		switch f.Name {
		case "is_incident":
			if !event.IsIncident() && !event.IsResolution() {
				return true, nil
			}
		case "not_silenced":
			if event.IsSilenced() {
				return true, nil
			}
		case "has_metrics":
			if !event.HasMetrics() {
				return true, nil
			}
		default:
			return false, fmt.Errorf("filter %s is not emulated here", f.Name)
		}
	}
	return false, nil
}
