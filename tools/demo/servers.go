package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// summarizeServers reads back what the demo shipped to the servers of
// make demo-services, and says how to look for yourself.
func summarizeServers(ctx context.Context) error {
	vl, prom := os.Getenv("VIGIL_VICTORIALOGS_URL"), os.Getenv("VIGIL_PROMETHEUS_URL")
	if vl != "" {
		// VictoriaLogs makes documents searchable within about a second.
		var rows []map[string]string
		query := `* | stats by (vigil.check, vigil.severity) count() events | sort by (vigil.check, vigil.severity)`
		for range 20 {
			var err error
			if rows, err = logsql(ctx, vl, query); err != nil {
				return err
			}
			if len(rows) > 0 {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		fmt.Printf("\nVictoriaLogs (Elasticsearch _bulk API) at %s holds, by check and worst severity:\n", vl)
		for _, r := range rows {
			fmt.Printf("  %3s  %s %s\n", r["events"], r["vigil.check"], r["vigil.severity"])
		}
		fmt.Printf("Search them: curl %s/select/logsql/query -d 'query=vigil.severity:critical | fields _time, vigil.entity, vigil.check, _msg'\n", vl)
	}
	if prom != "" {
		var doc struct {
			Data struct {
				Result []struct {
					Metric map[string]string
					Value  [2]any
				}
			}
		}
		// The checks print Nagios perfdata: the agent's metrics carry the
		// findings per severity, and --status-metric adds the status.
		query := `{__name__=~"vigil_check_status|findings_critical|findings_high"}`
		if err := getJSON(ctx, prom+"/api/v1/query?"+url.Values{"query": {query}}.Encode(), &doc); err != nil {
			return err
		}
		byCheck := map[string][]string{}
		for _, r := range doc.Data.Result {
			c := r.Metric["check"]
			byCheck[c] = append(byCheck[c], fmt.Sprintf("%s=%v", r.Metric["__name__"], r.Value[1]))
		}
		lines := make([]string, 0, len(byCheck))
		for c, vs := range byCheck {
			sort.Strings(vs)
			lines = append(lines, fmt.Sprintf("  %-17s %s", c, strings.Join(vs, " ")))
		}
		sort.Strings(lines)
		fmt.Printf("\nPrometheus at %s, each check's last run:\n%s\n", prom, strings.Join(lines, "\n"))
		fmt.Printf("Chart them: %s/graph?g0.expr=%s\n", prom, url.QueryEscape("sum by (check) (findings_critical)"))
	}
	return nil
}

func logsql(ctx context.Context, base, query string) ([]map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/select/logsql/query?"+url.Values{"query": {query}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var rows []map[string]string
	dec := json.NewDecoder(resp.Body)
	for {
		var row map[string]string
		if err := dec.Decode(&row); err == io.EOF {
			return rows, nil
		} else if err != nil {
			return nil, fmt.Errorf("VictoriaLogs answer: %w", err)
		}
		rows = append(rows, row)
	}
}

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", u, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
