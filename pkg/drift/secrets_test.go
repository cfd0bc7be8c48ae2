package drift_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/drift"
)

// A tool's failure message can hold the command that failed and its
// output; only its first line, bounded and masked, is kept anywhere in
// the result.
func TestNoFieldCarriesACommandLineOrItsOutput(t *testing.T) {
	t.Parallel()
	const cmd = `mysql -uroot -pS3cr3tPassw0rd -e "CREATE USER 'app'@'%' IDENTIFIED BY 'S3cr3tApp'"`
	shellFailed := "Mixlib::ShellOut::ShellCommandFailed: Expected process to exit with [0], but received '1'\n---- Begin output of " + cmd +
		" ----\nSTDOUT: \nSTDERR: ERROR 1396 (HY000)\n---- End output of " + cmd + " ----\nRan " + cmd + " returned 1"
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	tests := map[string]struct {
		src  drift.Source
		data string
	}{
		"chef handler, one line": {drift.Chef, `{"node":"db-01","success":false,"all_resources":[],"exception":` +
			q("Mixlib::ShellOut::ShellCommandFailed: execute[create user] (app::db line 18) had an error: "+strings.ReplaceAll(shellFailed, "\n", " ")) + `}`},
		"chef handler, credentials in the first line": {drift.Chef, `{"node":"db-01","success":false,"all_resources":[],"exception":` +
			q("RuntimeError: git clone https://deploy:S3cr3tPassw0rd@git.example.com/app.git failed; psql --password=S3cr3tPassw0rd; token=S3cr3tPassw0rd") + `}`},
		"chef run_converge": {drift.Chef, `{"message_type":"run_converge","node_name":"db-01","status":"failure","end_time":"2025-11-23T10:00:00Z",` +
			`"resources":[{"type":"execute","name":"create user","status":"failed","error":{"class":"Mixlib::ShellOut::ShellCommandFailed","message":` + q(shellFailed) + `}}],` +
			`"error":{"class":"Mixlib::ShellOut::ShellCommandFailed","message":` + q(shellFailed) + `}}`},
		"puppet report": {drift.Puppet, "--- !ruby/object:Puppet::Transaction::Report\nhost: db-01\ntime: 2025-11-23 10:00:00.000000000 +00:00\nstatus: failed\ntransaction_completed: false\nlogs:\n- !ruby/object:Puppet::Util::Log\n  level: :err\n  message: " +
			q("Could not run: '"+cmd+"' returned 1 instead of one of [0]\n"+shellFailed) + "\n  source: Puppet\n"},
		"terraform stream": {drift.Terraform, `{"@level":"error","@message":"Error","type":"diagnostic","diagnostic":{"severity":"error","summary":` +
			q("Failed to query https://admin:S3cr3tPassw0rd@state.example.com/\n"+cmd) + `}}` + "\n"},
		"ansible json callback": {drift.Ansible, `{"plays":[{"play":{"name":"db"},"tasks":[{"task":{"name":"create user"},"hosts":{"db01":{"action":"command","failed":true,"msg":` +
			q("non-zero return code: "+cmd+"\n"+shellFailed) + `}}}]}],"stats":{"db01":{"ok":1,"failures":1}}}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := drift.Parse(tt.src, name, []byte(tt.data), drift.Options{})
			require.NoError(t, err)
			require.True(t, r.RunFailed || r.Failed > 0)
			out := fmt.Sprintf("%+v", *r)
			for _, bad := range []string{"S3cr3t", "Begin output", "STDERR", "End output", "Ran mysql"} {
				require.NotContains(t, out, bad)
			}
			for _, s := range append([]string{r.RunError}, details(r)...) {
				require.NotContains(t, s, "\n")
				require.LessOrEqual(t, utf8.RuneCountInString(s), 240, s)
			}
		})
	}
}

func details(r *drift.Result) []string {
	var out []string
	for _, x := range r.Resources {
		out = append(out, x.ID, x.Detail)
	}
	return out
}
