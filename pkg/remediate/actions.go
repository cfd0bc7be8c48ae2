package remediate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/units"
)

// SensuAPI is how a sensu-execute action reaches the backend.
type SensuAPI struct {
	// URL is the backend API, such as https://sensu.example:8080.
	URL string
	// Key is the API key, sent as "Authorization: Key KEY".
	Key secret.String
	// Client is the HTTP client (CA bundle, retries).
	Client *httpx.Client
}

// result is what running an action produced, for the audit record.
type result struct {
	httpStatus int
	exitCode   *int
	output     string
	outBytes   int64
	truncated  bool
}

// executeCheck asks the Sensu backend to run check on entity now:
// POST /api/core/v2/namespaces/NS/checks/CHECK/execute with the ad hoc
// subscription entity:ENTITY (sensu-go's CheckRequest). The backend
// answers 202 Accepted.
func executeCheck(ctx context.Context, api SensuAPI, redact *secret.Redactor, ns, check, entity string) (result, error) {
	var res result
	if api.URL == "" || api.Client == nil {
		return res, fmt.Errorf("no Sensu API: set --sensu-api-url (or SENSU_API_URL)")
	}
	if !api.Key.IsSet() {
		return res, fmt.Errorf("no Sensu API key: set SENSU_API_KEY or --sensu-api-key-file")
	}
	body, err := json.Marshal(map[string]any{"check": check, "subscriptions": []string{"entity:" + entity}})
	if err != nil {
		return res, fmt.Errorf("encode check request: %w", err)
	}
	endpoint := strings.TrimRight(api.URL, "/") + "/api/core/v2/namespaces/" + url.PathEscape(ns) + "/checks/" + url.PathEscape(check) + "/execute"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return res, fmt.Errorf("build check request: %w", redact.Error(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Key "+api.Key.Reveal())
	resp, err := api.Client.Do(req)
	if err != nil {
		return res, redact.Error(fmt.Errorf("ask the Sensu API to execute %s/%s: %w", ns, check, err))
	}
	defer func() { _ = resp.Body.Close() }()
	res.httpStatus = resp.StatusCode
	excerpt := readExcerpt(resp.Body, redact)
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK, http.StatusCreated:
		return res, nil
	case http.StatusNotFound:
		return res, fmt.Errorf("the Sensu API has no check %s in namespace %s (404)", check, ns)
	case http.StatusUnauthorized, http.StatusForbidden:
		return res, fmt.Errorf("the Sensu API refused the API key (%d): it needs the create verb on checks in namespace %s", resp.StatusCode, ns)
	default:
		return res, fmt.Errorf("the Sensu API answered %d to execute %s/%s: %s", resp.StatusCode, ns, check, excerpt)
	}
}

// postWebhook sends the event JSON to the action's URL; 2xx is success.
func postWebhook(ctx context.Context, client *httpx.Client, redact *secret.Redactor, a *Action, token secret.String, rule string, event []byte) (result, error) {
	var res result
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL, bytes.NewReader(event))
	if err != nil {
		return res, fmt.Errorf("build webhook request: %w", redact.Error(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Vigil-Action", a.Name)
	req.Header.Set("X-Vigil-Rule", rule)
	if token.IsSet() {
		req.Header.Set("Authorization", "Bearer "+token.Reveal())
	}
	resp, err := client.Do(req)
	if err != nil {
		return res, redact.Error(fmt.Errorf("webhook: %w", err))
	}
	defer func() { _ = resp.Body.Close() }()
	res.httpStatus = resp.StatusCode
	excerpt := readExcerpt(resp.Body, redact)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return res, fmt.Errorf("webhook %s answered %d: %s", redact.Redact((&url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: req.URL.Path}).String()), resp.StatusCode, excerpt)
	}
	return res, nil
}

// readExcerpt reads the start of a response body for an error message.
// The body is masked before it is cut, so that a secret the server echoes
// across the cut is not left half visible.
func readExcerpt(r io.Reader, redact *secret.Redactor) string {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	s := redact.Redact(strings.Join(strings.Fields(string(b)), " "))
	if s == "" {
		return "(empty body)"
	}
	return units.Clip(s, 512)
}

// tailBuffer keeps the last max bytes written to it and counts them all.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += int64(len(p))
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// runCommand runs a command action: argv without a shell, the event on
// stdin, env as the whole environment, stdout and stderr merged into a
// bounded buffer. At the timeout (or when ctx ends) the whole process
// group is killed.
func runCommand(ctx context.Context, a *Action, stdin []byte, env []string, redact *secret.Redactor) (result, error) {
	var res result
	timeout := time.Duration(a.Timeout)
	// Keep time back before the handler's deadline for the kill, the
	// output (WaitDelay) and the audit record.
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - 3*time.Second; left < timeout {
			timeout = max(left, 100*time.Millisecond)
		}
	}
	// Keep a margin beyond the limit: the output is masked before it is
	// cut to MaxOutput, so a secret across the cut is not half shown.
	out := &tailBuffer{max: a.MaxOutput + 4096}
	cmd := exec.Command(a.Command[0], a.Command[1:]...) //nolint:gosec // the operator's configured command, argv form
	cmd.Env = env
	cmd.Dir = a.Dir
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout = out
	cmd.Stderr = out
	// Output pipes held open by a stray grandchild must not hang us.
	cmd.WaitDelay = 2 * time.Second
	newProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start %s: %w", a.Command[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	killed := ""
	select {
	case err = <-done:
	case <-timer.C:
		killProcessGroup(cmd)
		err = <-done
		killed = "killed after the timeout of " + timeout.Round(time.Millisecond).String()
	case <-ctx.Done():
		killProcessGroup(cmd)
		err = <-done
		killed = "killed: " + context.Cause(ctx).Error()
	}
	out.mu.Lock()
	masked := redact.Redact(strings.ToValidUTF8(string(out.buf), "\uFFFD"))
	if over := len(masked) - a.MaxOutput; a.MaxOutput > 0 && over > 0 {
		for over < len(masked) && !utf8.RuneStart(masked[over]) {
			over++
		}
		masked = masked[over:]
	}
	res.output = masked
	res.outBytes = out.total
	res.truncated = out.total > int64(len(res.output))
	out.mu.Unlock()
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	res.exitCode = &code
	switch {
	case killed != "":
		return res, fmt.Errorf("command %s %s", a.Command[0], killed)
	case code == 0 && errors.Is(err, exec.ErrWaitDelay):
		// It succeeded and left a process behind holding its output (a
		// service it restarted): that is its business, not a failure.
		res.output += "\n[vigil: the command exited 0 and left a process holding its output]"
		return res, nil
	case err != nil && code > 0:
		return res, fmt.Errorf("command %s exited with status %d", a.Command[0], code)
	case err != nil:
		return res, fmt.Errorf("command %s: %w", a.Command[0], redact.Error(err))
	}
	return res, nil
}

// commandEnv is a command action's whole environment: PATH, the
// VIGIL_* variables describing the event and decision, and the action's
// own env. The handler's environment is not passed on: it holds the
// Sensu API key.
func commandEnv(pathVar string, f Facts, a *Action, rule, capturePath string) []string {
	env := []string{
		"PATH=" + pathVar,
		"VIGIL_EVENT_NAMESPACE=" + f.Namespace,
		"VIGIL_EVENT_ENTITY=" + f.Entity,
		"VIGIL_EVENT_CHECK=" + f.Check,
		"VIGIL_EVENT_STATUS=" + strconv.Itoa(f.Status),
		"VIGIL_EVENT_OCCURRENCES=" + strconv.FormatInt(f.Occurrences, 10),
		"VIGIL_EVENT_RULES=" + strings.Join(f.Rules, ","),
		"VIGIL_ACTION=" + a.Name,
		"VIGIL_RULE=" + rule,
	}
	if f.Severity != nil {
		env = append(env, "VIGIL_EVENT_SEVERITY="+f.Severity.String())
	}
	if capturePath != "" {
		env = append(env, "VIGIL_CAPTURE="+capturePath)
	}
	for k, v := range a.Env {
		env = append(env, k+"="+v)
	}
	return env
}
