package drift

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestShortMessageKeepsTheFirstLineAndMasksCredentials(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Mixlib::ShellOut::ShellCommandFailed: execute[x] (c::r line 1) had an error: Expected process to exit with [0], but received '1'\n---- Begin output of mysql -uroot -pS3cr3t ----\nSTDOUT:":             "Mixlib::ShellOut::ShellCommandFailed: execute[x] (c::r line 1) had an error: Expected process to exit with [0], but received '1'",
		"Expected process to exit with [0], but received '1' ---- Begin output of mysql -uroot -pS3cr3t ---- STDOUT: STDERR: ---- End output of mysql -uroot -pS3cr3t ---- Ran mysql -uroot -pS3cr3t returned 1": "Expected process to exit with [0], but received '1'",
		"\n\n  RuntimeError: mysql -uroot -pS3cr3t -e 'select 1' failed":                "RuntimeError: mysql -uroot -p*** -e 'select 1' failed",
		"could not fetch https://deploy:S3cr3t@repo.example.com/pkg.tgz":                "could not fetch https://deploy:***@repo.example.com/pkg.tgz",
		"psql --password=S3cr3t --host db failed":                                       "psql --password=*** --host db failed",
		"vault login --token S3cr3t returned 2":                                         "vault login --token *** returned 2",
		"exec curl -d 'user=app&password=S3cr3t' failed":                                "exec curl -d 'user=app&password=***' failed",
		"GET /api?token=S3cr3t&x=1: 401":                                                "GET /api?token=***&x=1: 401",
		`{"api_key": "S3cr3t", "user": "x"}`:                                            `{"api_key": ***, "user": "x"}`,
		"header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.S3cr3t was refused":          "header Authorization: Bearer *** was refused",
		"PGPASSWORD=S3cr3t pg_dump app":                                                 "PGPASSWORD=*** pg_dump app",
		"Unknown variable: 'nginx::port'. (file: /etc/x/init.pp, line: 12, column: 15)": "Unknown variable: 'nginx::port'. (file: /etc/x/init.pp, line: 12, column: 15)",
		`psql -c "CREATE ROLE app WITH PASSWORD 'S3cr3t'" failed`:                       `psql -c "CREATE ROLE app WITH PASSWORD ***" failed`,
		"password authentication failed for user app":                                   "password authentication failed for user app",
		"mkdir -p /srv/app failed":                                                      "mkdir -p /srv/app failed",
		"Systemd start for nginx failed! journalctl log for nginx: -- No entries --":    "Systemd start for nginx failed! journalctl log for nginx: -- No entries --",
	} {
		got := shortMessage(in)
		require.Equal(t, want, got, in)
		require.NotContains(t, got, "S3cr3t", in)
	}
	long := shortMessage(strings.Repeat("é", 5000) + " password=S3cr3t")
	require.Equal(t, maxMessage, utf8.RuneCountInString(long))
	require.True(t, strings.HasSuffix(long, "…"))
	require.True(t, utf8.ValidString(long))
}
