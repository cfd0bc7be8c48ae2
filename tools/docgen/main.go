// Command docgen regenerates what must follow the code (make docs): each
// plugin README's options table (from the binary's own "options"
// command) and example blocks (from examples/), and the .bonsai.yml files
// (from internal/release's targets). With --check it writes nothing and
// fails if anything is stale (make check-docs, run by CI and make test).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/vigil-sec/vigil/internal/release"
)

func main() {
	bin := flag.String("bin", "bin", "directory holding the built plugins")
	check := flag.Bool("check", false, "fail if a generated file is stale instead of writing it")
	flag.Parse()
	root, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	stale, err := run(context.Background(), root, *bin, !*check)
	if err != nil {
		fail(err)
	}
	if *check && len(stale) > 0 {
		fail(fmt.Errorf("stale generated files (run make docs): %s", strings.Join(stale, ", ")))
	}
	for _, s := range stale {
		fmt.Println("updated", s)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "docgen:", err)
	os.Exit(1)
}

// run regenerates every file and returns those that changed (or would).
func run(ctx context.Context, root, bin string, write bool) ([]string, error) {
	plugins, err := release.Plugins(root)
	if err != nil {
		return nil, err
	}
	supported := map[string]map[string]bool{} // by target suffix, then plugin
	for _, t := range release.Targets {
		if supported[t.Suffix()], err = release.Supported(ctx, root, plugins, t); err != nil {
			return nil, err
		}
	}
	files := map[string][]byte{}
	for _, p := range plugins {
		readmePath := filepath.Join(p.Dir, "README.md")
		old, err := os.ReadFile(filepath.Join(root, readmePath))
		if err != nil {
			return nil, fmt.Errorf("%s has no README.md (see CONTRIBUTING.md)", p.Dir)
		}
		table, err := exec.CommandContext(ctx, filepath.Join(bin, p.Name), "options", "--format", "markdown").Output()
		if err != nil {
			return nil, fmt.Errorf("%s options: %w (run make build first)", p.Name, err)
		}
		readme, err := Fill(root, string(old), string(table))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", readmePath, err)
		}
		files[readmePath] = []byte(readme)
		var targets []release.Target
		for _, t := range release.Targets {
			if supported[t.Suffix()][p.Name] {
				targets = append(targets, t)
			}
		}
		files[filepath.Join("assets", "bonsai", p.Name+".bonsai.yml")] = []byte(release.BonsaiYAML("Vigil "+p.Name, targets))
	}
	files[".bonsai.yml"] = []byte(release.BonsaiYAML("Vigil: security and privacy monitoring checks, mutators and handlers for Sensu (every binary)", release.Targets))

	var changed []string
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(root, path))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if bytes.Equal(got, want) {
			continue
		}
		changed = append(changed, path)
		if write {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(root, path)), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(root, path), want, 0o644); err != nil {
				return nil, err
			}
		}
	}
	return changed, nil
}

var (
	optionsBlock = regexp.MustCompile(`(?s)(<!-- BEGIN OPTIONS -->\n).*?(<!-- END OPTIONS -->)`)
	exampleBlock = regexp.MustCompile(`(?s)<!-- BEGIN EXAMPLE (\S+) -->\n.*?<!-- END EXAMPLE -->`)
)

// Fill replaces the generated blocks of a README: the options table, and
// each example block with the file it names (relative to root).
func Fill(root, readme, table string) (string, error) {
	if !optionsBlock.MatchString(readme) {
		return "", errors.New("no <!-- BEGIN OPTIONS --> … <!-- END OPTIONS --> block")
	}
	readme = optionsBlock.ReplaceAllLiteralString(readme, "<!-- BEGIN OPTIONS -->\n"+table+"<!-- END OPTIONS -->")
	var ferr error
	readme = exampleBlock.ReplaceAllStringFunc(readme, func(block string) string {
		path := exampleBlock.FindStringSubmatch(block)[1]
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			ferr = fmt.Errorf("example %s: %w", path, err)
			return block
		}
		lang := "text"
		if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
			lang = "yaml"
		}
		return "<!-- BEGIN EXAMPLE " + path + " -->\n```" + lang + "\n" + string(b) + "```\n<!-- END EXAMPLE -->"
	})
	return readme, ferr
}
