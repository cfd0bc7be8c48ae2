// Command demo runs Vigil the way a Sensu installation would, on the
// sample data in examples/demo, without any server (make demo): each
// CheckConfig of examples/demo/resources runs as sensu-agent would run it,
// and its event goes through the pipelines the check names, as
// sensu-backend would route it, to handler-archive. examples/demo/story.yaml
// orders the steps and says what happens between them; the Sensu
// resources are in examples/demo/resources. It prints what happened at
// each step.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/pkg/archive"
	"github.com/vigil-sec/vigil/pkg/redact"
	"github.com/vigil-sec/vigil/pkg/sensuexec"
)

func main() {
	bin := flag.String("bin", "bin", "directory holding the built binaries")
	examples := flag.String("examples", "examples/demo", "directory holding the demo resources and data")
	work := flag.String("work", ".demo", "working directory (recreated)")
	with := flag.String("with", "", "directory of more resources: their handlers are added, their pipelines' workflows join the demo's pipelines of the same name (make demo-services)")
	flag.Parse()
	if err := run(context.Background(), *bin, *examples, *work, *with); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, examples, work, with string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := copyTree(filepath.Join(examples, "data"), filepath.Join(work, "data")); err != nil {
		return err
	}
	work, err = filepath.Abs(work)
	if err != nil {
		return err
	}
	res := &sensuexec.Resources{}
	files, _ := filepath.Glob(filepath.Join(examples, "resources", "*.yaml"))
	sort.Strings(files)
	for _, f := range files {
		r, err := sensuexec.LoadResources(f)
		if err != nil {
			return err
		}
		res.Checks = append(res.Checks, r.Checks...)
		res.Mutators = append(res.Mutators, r.Mutators...)
		res.Handlers = append(res.Handlers, r.Handlers...)
		res.Pipelines = append(res.Pipelines, r.Pipelines...)
	}
	if with != "" {
		if err := addResources(res, with); err != nil {
			return err
		}
	}
	env := append(os.Environ(), "VIGIL_STATE_DIR="+filepath.Join(work, "state"), "VIGIL_DEMO_DIR="+work)
	agent := &sensuexec.Agent{Env: env, AssetBins: []string{bin}, Dir: work}
	backend := &sensuexec.Backend{Env: env, AssetBins: []string{bin}, Dir: work}
	fmt.Printf("Vigil demo: %d checks, %d pipelines, working in %s\n", len(res.Checks), len(res.Pipelines), work)
	steps, err := loadScenario(filepath.Join(examples, "story.yaml"), res)
	if err != nil {
		return err
	}
	lastRun := map[string]int64{}
	for i, st := range steps {
		if st.Say != "" {
			fmt.Printf("\n%d. %s\n", i+1, st.Say)
		}
		if st.Run != "" {
			resp, err := sensuexec.Execute(ctx, sensuexec.Request{Command: "set -e\n" + st.Run, Env: env, Dir: work, Timeout: 60})
			if err != nil || resp.Status != 0 {
				return fmt.Errorf("step %d: %w: %s", i+1, errors.Join(err, fmt.Errorf("exit %d", resp.Status)), resp.Output)
			}
		}
		if st.Check == "" {
			continue
		}
		check := res.Check(st.Check)
		if check == nil {
			return fmt.Errorf("step %d: no CheckConfig %q in %s", i+1, st.Check, examples)
		}
		// Metric points carry their check's execution time in seconds, as
		// the agent extracts them; a time-series database refuses a second
		// value for a series at the same second, so with the servers a
		// check runs again only in a new second (real checks run minutes
		// apart).
		for with != "" && time.Now().Unix() <= lastRun[check.Name] {
			time.Sleep(50 * time.Millisecond)
		}
		if err := runCheck(ctx, agent, backend, res, check); err != nil {
			return err
		}
		lastRun[check.Name] = time.Now().Unix()
	}
	if err := summarize(filepath.Join(work, "archive")); err != nil {
		return err
	}
	if with != "" {
		return summarizeServers(ctx)
	}
	return nil
}

// addResources adds the handlers and mutators of dir's files, and the
// workflows of their pipelines to the pipelines of the same name.
func addResources(res *sensuexec.Resources, dir string) error {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	sort.Strings(files)
	for _, f := range files {
		r, err := sensuexec.LoadResources(f)
		if err != nil {
			return err
		}
		res.Handlers = append(res.Handlers, r.Handlers...)
		res.Mutators = append(res.Mutators, r.Mutators...)
		for _, p := range r.Pipelines {
			if have := res.Pipeline(p.Name); have != nil {
				have.Workflows = append(have.Workflows, p.Workflows...)
			} else {
				res.Pipelines = append(res.Pipelines, p)
			}
		}
	}
	return nil
}

// step is one step of examples/demo/story.yaml.
type step struct {
	Say   string `yaml:"say"`
	Run   string `yaml:"run"`
	Check string `yaml:"check"`
}

// loadScenario reads the steps; without a scenario every check runs once,
// in file order.
func loadScenario(path string, res *sensuexec.Resources) ([]step, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		var steps []step
		for _, c := range res.Checks {
			steps = append(steps, step{Check: c.Name})
		}
		return steps, nil
	}
	if err != nil {
		return nil, err
	}
	var sc struct {
		Steps []step `yaml:"steps"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sc.Steps, nil
}

// runCheck runs one check as the agent would and routes its event as the
// backend would, printing both.
func runCheck(ctx context.Context, agent *sensuexec.Agent, backend *sensuexec.Backend, res *sensuexec.Resources, check *corev2.CheckConfig) error {
	{
		fmt.Printf("   $ %s\n", check.Command)
		ev, _, err := agent.RunCheck(ctx, check)
		if err != nil {
			return fmt.Errorf("check %s: %w", check.Name, err)
		}
		if err := ev.Validate(); err != nil {
			return fmt.Errorf("check %s produced an invalid event: %w", check.Name, err)
		}
		for _, line := range strings.Split(strings.TrimRight(ev.Check.Output, "\n"), "\n") {
			// Perfdata is for machines: show the status line without it.
			if i := strings.Index(line, " | "); i > 0 {
				line = line[:i]
			}
			fmt.Println("     " + line)
		}
		fmt.Printf("   -> exit %d; event %s/%s", ev.Check.Status, ev.Entity.Name, ev.Check.Name)
		if ev.Metrics != nil {
			fmt.Printf(" with %d metric points", len(ev.Metrics.Points))
		}
		fmt.Println()
		for _, r := range backend.Route(ctx, res, ev) {
			switch {
			case r.Err != nil:
				return fmt.Errorf("pipeline %s, workflow %s: %w", r.Pipeline, r.Workflow, r.Err)
			case r.Filtered:
				// Not this workflow's kind of event (remediation sees incidents only).
			case r.Response.Status != 0:
				return fmt.Errorf("handler %s failed: %s", r.Handler, r.Response.Output)
			case strings.TrimSpace(r.Response.Output) != "":
				// A handler that reports what it decided (remediation).
				line, _, _ := strings.Cut(strings.TrimSpace(r.Response.Output), "\n")
				fmt.Printf("   -> pipeline %s/%s: %s\n", r.Pipeline, r.Workflow, line)
			default:
				fmt.Printf("   -> pipeline %s/%s: handler %s delivered it\n", r.Pipeline, r.Workflow, r.Handler)
			}
		}
	}
	return nil
}

// summarize prints what the archive holds.
func summarize(dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	count := map[string]int{}
	var scrubbed, outputs []string
	n, enriched := 0, 0
	owners := map[string]bool{}
	err := archive.Scan(dir, time.Time{}, time.Time{}, func(line []byte) error {
		var ev corev2.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return err
		}
		n++
		count[fmt.Sprintf("%s %s", ev.Check.Name, statusName(ev.Check.Status))]++
		if owner := ev.Check.Labels["vigil.io/owner"]; owner != "" {
			enriched++
			owners[owner+" (team "+ev.Check.Labels["vigil.io/team"]+")"] = true
		}
		if r := ev.Check.Annotations[redact.Annotation]; r != "" && r != "{}" {
			scrubbed = append(scrubbed, fmt.Sprintf("%s: %s", ev.Check.Name, r))
			outputs = append(outputs, ev.Check.Output)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("\nArchive %s holds %d events:\n", dir, n)
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %3d  %s\n", count[k], k)
	}
	for i, r := range scrubbed {
		fmt.Printf("mutator-redact scrubbed %s before archiving:\n     %s", r, outputs[i])
	}
	if enriched > 0 {
		names := make([]string, 0, len(owners))
		for o := range owners {
			names = append(names, o)
		}
		sort.Strings(names)
		fmt.Printf("mutator-enrich gave %d of them their owner (%s), runbook and the rules' MITRE ATT&CK and compliance references.\n", enriched, strings.Join(names, ", "))
	}
	fmt.Printf("Read them with: jq . %s/events-*.jsonl\n", dir)
	return nil
}

func statusName(s uint32) string {
	return map[uint32]string{0: "OK", 1: "WARNING", 2: "CRITICAL"}[s] + map[bool]string{true: "UNKNOWN", false: ""}[s > 2]
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == src {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
}
