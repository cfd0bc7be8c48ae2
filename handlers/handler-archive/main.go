// Command handler-archive appends each Sensu event it receives as one JSON
// line to a daily file: Vigil's embedded event store, which vigil-report
// reads. See README.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/archive"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/state"
	"github.com/vigil-sec/vigil/pkg/units"
)

func main() {
	os.Exit(plugin.RunHandler(context.Background(), handler(), os.Args[1:], plugin.StdIO()))
}

// config is handler-archive's configuration.
type config struct {
	Dir      string
	MaxSize  int64
	KeepDays int
}

func handler() plugin.Handler[config] {
	return plugin.Handler[config]{
		Plugin: plugin.Plugin[config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "handler-archive",
				Short:    "Append Sensu events as JSON lines to daily files, Vigil's embedded event store",
				Timeout:  30,
				Keyspace: "vigil.io/handler-archive",
			},
			Options:  options,
			Validate: validate,
		},
		Handle: handle,
	}
}

func options(c *config) []plugin.Option {
	return []plugin.Option{
		{Spec: &sensu.PluginConfigOption[string]{Argument: "dir", Shorthand: "d", Env: "VIGIL_ARCHIVE_DIR", Value: &c.Dir,
			Usage: "archive directory (default: $VIGIL_STATE_DIR/archive, else ~/.cache/vigil/archive)"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[int64]{Argument: "max-size", Env: "VIGIL_ARCHIVE_MAX_SIZE", Path: "max-size", Default: archive.DefaultMaxSize, Value: &c.MaxSize,
			Usage: "start a new file for the day once one reaches this many bytes"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "keep-days", Env: "VIGIL_ARCHIVE_KEEP_DAYS", Value: &c.KeepDays,
			Usage: "delete files older than this many days (0 keeps everything)"}},
	}
}

func validate(c *config) error {
	if c.Dir == "" {
		c.Dir = filepath.Join(state.DefaultDir(), "archive")
	}
	if c.MaxSize < 1024 {
		return fmt.Errorf("--max-size (or VIGIL_ARCHIVE_MAX_SIZE) must be at least 1024 bytes, got %d", c.MaxSize)
	}
	if c.KeepDays < 0 {
		return fmt.Errorf("--keep-days (or VIGIL_ARCHIVE_KEEP_DAYS) must be 0 or more, got %d", c.KeepDays)
	}
	return nil
}

// handle archives the event as received (compacted to one line), on the
// day of its own timestamp.
func handle(ctx context.Context, c *config, env *plugin.Env) error {
	var line bytes.Buffer
	if err := json.Compact(&line, env.EventJSON); err != nil {
		return fmt.Errorf("compact event: %w", err)
	}
	w := archive.Writer{Dir: c.Dir, MaxSize: c.MaxSize, KeepDays: c.KeepDays}
	path, err := w.Append(ctx, line.Bytes(), units.Epoch(env.Event.Timestamp))
	if err != nil {
		return err
	}
	env.Log.Debug("event archived", "file", path, "bytes", line.Len())
	return nil
}
