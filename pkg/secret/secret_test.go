package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/secret"
)

// value is the secret every printing test tries to leak. It is long and
// distinctive so that a substring check cannot match by accident.
const value = "hunter2-Sup3rS3cret"

type holder struct {
	Name  string
	Token secret.String
}

type nested struct {
	Inner holder
	Ptr   *secret.String
}

func TestStringMasksEveryFmtVerb(t *testing.T) {
	t.Parallel()
	s := secret.String(value)
	ptr := &s
	tests := []struct {
		name   string
		format string
		arg    any
		want   string
	}{
		{name: "%s prints the mask", format: "%s", arg: s, want: secret.Mask},
		{name: "%v prints the mask", format: "%v", arg: s, want: secret.Mask},
		{name: "%+v prints the mask", format: "%+v", arg: s, want: secret.Mask},
		{name: "%#v prints a Go expression with the mask", format: "%#v", arg: s, want: `secret.String("[REDACTED]")`},
		{name: "%q prints the quoted mask", format: "%q", arg: s, want: `"[REDACTED]"`},
		{name: "%x prints the mask, not hex of the value", format: "%x", arg: s, want: secret.Mask},
		{name: "%X prints the mask, not hex of the value", format: "%X", arg: s, want: secret.Mask},
		{name: "%d prints the mask", format: "%d", arg: s, want: secret.Mask},
		{name: "a width flag does not reveal the value", format: "%30s", arg: s, want: secret.Mask},
		{name: "a pointer to the secret prints the mask", format: "%v", arg: ptr, want: secret.Mask},
		{name: "a pointer to the secret prints the mask with %s", format: "%s", arg: ptr, want: secret.Mask},
		{name: "an exported struct field prints the mask with %v", format: "%v", arg: holder{Name: "n", Token: s}, want: "{n [REDACTED]}"},
		{name: "an exported struct field prints the mask with %+v", format: "%+v", arg: holder{Name: "n", Token: s}, want: "{Name:n Token:[REDACTED]}"},
		{name: "a struct pointer prints the mask with %+v", format: "%+v", arg: &holder{Name: "n", Token: s}, want: "&{Name:n Token:[REDACTED]}"},
		{name: "a nested struct prints the mask with %+v", format: "%+v", arg: nested{Inner: holder{Token: s}}, want: "{Inner:{Name: Token:[REDACTED]} Ptr:<nil>}"},
		{name: "a map value prints the mask", format: "%v", arg: map[string]secret.String{"k": s}, want: "map[k:[REDACTED]]"},
		{name: "a map key prints the mask", format: "%v", arg: map[secret.String]int{s: 1}, want: "map[[REDACTED]:1]"},
		{name: "slice elements print the mask", format: "%v", arg: []secret.String{s, s}, want: "[[REDACTED] [REDACTED]]"},
		{name: "slice elements print the mask with %q", format: "%q", arg: []secret.String{s}, want: `["[REDACTED]"]`},
		{name: "an any slice prints the mask", format: "%v", arg: []any{"x", s}, want: "[x [REDACTED]]"},
		{name: "the empty secret prints as empty", format: "%s", arg: secret.String(""), want: ""},
		{name: "the empty secret quotes as empty", format: "%q", arg: secret.String(""), want: `""`},
		{name: "the empty secret prints an empty Go expression", format: "%#v", arg: secret.String(""), want: `secret.String("")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := fmt.Sprintf(tt.format, tt.arg)
			require.Equal(t, tt.want, got)
			require.NotContains(t, got, value)
		})
	}
}

func TestStringMasksInPrintAndErrorfHelpers(t *testing.T) {
	t.Parallel()
	s := secret.String(value)
	tests := []struct {
		name string
		got  string
	}{
		{name: "fmt.Sprint masks", got: fmt.Sprint(s)},
		{name: "fmt.Sprintln masks", got: fmt.Sprintln("token", s)},
		{name: "fmt.Errorf masks", got: fmt.Errorf("bad token %v", s).Error()},
		{name: "String masks", got: s.String()},
		{name: "GoString masks", got: s.GoString()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, tt.got, secret.Mask)
			require.NotContains(t, tt.got, value)
		})
	}
}

func TestStringMarshalsJSONAsTheMask(t *testing.T) {
	t.Parallel()
	s := secret.String(value)
	tests := []struct {
		name string
		in   any
		want string
	}{
		{name: "a bare secret marshals to the quoted mask", in: s, want: `"[REDACTED]"`},
		{name: "a struct field marshals to the mask", in: holder{Name: "n", Token: s}, want: `{"Name":"n","Token":"[REDACTED]"}`},
		{name: "a pointer field marshals to the mask", in: nested{Ptr: &s}, want: `{"Inner":{"Name":"","Token":""},"Ptr":"[REDACTED]"}`},
		{name: "a map value marshals to the mask", in: map[string]secret.String{"k": s}, want: `{"k":"[REDACTED]"}`},
		{name: "slice elements marshal to the mask", in: []secret.String{s}, want: `["[REDACTED]"]`},
		{name: "the empty secret marshals to the empty string", in: secret.String(""), want: `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tt.in)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(b))
			require.NotContains(t, string(b), value)
		})
	}
}

func TestStringMarshalTextIsTheMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   secret.String
		want string
	}{
		{name: "a set secret marshals to the mask", in: value, want: secret.Mask},
		{name: "the empty secret marshals to nothing", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := tt.in.MarshalText()
			require.NoError(t, err)
			require.Equal(t, tt.want, string(b))
		})
	}
}

func TestStringMasksInSlog(t *testing.T) {
	t.Parallel()
	s := secret.String(value)
	type handlerFactory func(*bytes.Buffer) slog.Handler
	text := func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }
	jsonh := func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }
	tests := []struct {
		name    string
		handler handlerFactory
		key     string
		val     any
		want    string
	}{
		{name: "the text handler masks an attribute value", handler: text, key: "token", val: s, want: "token=[REDACTED]"},
		{name: "the text handler masks a struct field", handler: text, key: "cfg", val: holder{Name: "n", Token: s}, want: `cfg="{Name:n Token:[REDACTED]}"`},
		{name: "the text handler masks a struct pointer field", handler: text, key: "cfg", val: &holder{Token: s}, want: `cfg="&{Name: Token:[REDACTED]}"`},
		{name: "the text handler masks inside a group", handler: text, key: "auth", val: slog.GroupValue(slog.Any("token", s)), want: "auth.token=[REDACTED]"},
		{name: "the JSON handler masks an attribute value", handler: jsonh, key: "token", val: s, want: `"token":"[REDACTED]"`},
		{name: "the JSON handler masks a struct field", handler: jsonh, key: "cfg", val: holder{Name: "n", Token: s}, want: `"cfg":{"Name":"n","Token":"[REDACTED]"}`},
		{name: "the JSON handler masks a map value", handler: jsonh, key: "m", val: map[string]secret.String{"k": s}, want: `"m":{"k":"[REDACTED]"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			slog.New(tt.handler(&buf)).Info("configured", tt.key, tt.val)
			require.Contains(t, buf.String(), tt.want)
			require.NotContains(t, buf.String(), value)
		})
	}
}

func TestStringMasksAsLoggerWithAttr(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil)).With("token", secret.String(value))
	log.Info("first")
	log.Info("second", "again", secret.String(value))
	require.Equal(t, 2, strings.Count(buf.String(), `"token":"[REDACTED]"`))
	require.Contains(t, buf.String(), `"again":"[REDACTED]"`)
	require.NotContains(t, buf.String(), value)
}

func TestStringLogValueIsTheMask(t *testing.T) {
	t.Parallel()
	v := secret.String(value).LogValue()
	require.Equal(t, slog.KindString, v.Kind())
	require.Equal(t, secret.Mask, v.String())
}

func TestRevealAndIsSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        secret.String
		wantValue string
		wantSet   bool
	}{
		{name: "a set secret reveals its value", in: value, wantValue: value, wantSet: true},
		{name: "a secret of spaces is set and revealed as is", in: "  ", wantValue: "  ", wantSet: true},
		{name: "the zero value is not set and reveals empty", in: "", wantValue: "", wantSet: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.wantValue, tt.in.Reveal())
			require.Equal(t, tt.wantSet, tt.in.IsSet())
		})
	}
}

func TestFromFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    secret.String
		wantErr string
	}{
		{name: "a value without newline is read as is", content: "abc123", want: "abc123"},
		{name: "one trailing newline is dropped", content: "abc123\n", want: "abc123"},
		{name: "a trailing CRLF is dropped", content: "abc123\r\n", want: "abc123"},
		{name: "only one trailing newline is dropped", content: "abc123\n\n", want: "abc123\n"},
		{name: "surrounding spaces are part of the value", content: " abc 123 \n", want: " abc 123 "},
		{name: "inner newlines are kept", content: "line1\nline2\n", want: "line1\nline2"},
		{name: "an empty file is an error", content: "", wantErr: "is empty"},
		{name: "a file holding only a newline is an error", content: "\n", wantErr: "is empty"},
		{name: "a file holding only a CRLF is an error", content: "\r\n", wantErr: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "token")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			got, err := secret.FromFile(path)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.ErrorContains(t, err, path)
				require.False(t, got.IsSet())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFromFileMissingFileIsAnError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "absent")
	got, err := secret.FromFile(path)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "read secret file")
	require.ErrorContains(t, err, path)
	require.False(t, got.IsSet())
}

func TestFromFileValueIsMaskedWhenPrinted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(path, []byte(value+"\n"), 0o600))
	got, err := secret.FromFile(path)
	require.NoError(t, err)
	require.Equal(t, secret.Mask, fmt.Sprint(got))
	require.Equal(t, value, got.Reveal())
}

func TestRedactorRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string
		in     string
		want   string
	}{
		{
			name:   "a registered value is masked everywhere it occurs",
			values: []string{"s3cr3t-value"},
			in:     "auth s3cr3t-value failed; echoed s3cr3t-value",
			want:   "auth [REDACTED] failed; echoed [REDACTED]",
		},
		{
			name:   "several registered values are all masked",
			values: []string{"first-secret", "second-secret"},
			in:     "a=first-secret b=second-secret",
			want:   "a=[REDACTED] b=[REDACTED]",
		},
		{
			name:   "a secret containing a shorter one is masked whole when registered shorter first",
			values: []string{"abcd", "abcdefgh"},
			in:     "x abcdefgh y abcd z",
			want:   "x [REDACTED] y [REDACTED] z",
		},
		{
			name:   "a secret containing a shorter one is masked whole when registered longer first",
			values: []string{"abcdefgh", "abcd"},
			in:     "x abcdefgh y abcd z",
			want:   "x [REDACTED] y [REDACTED] z",
		},
		{
			name:   "the URL-encoded form of a value is masked",
			values: []string{"p@ss w/rd&x"},
			in:     "upstream said: token=" + url.QueryEscape("p@ss w/rd&x") + " invalid",
			want:   "upstream said: token=[REDACTED] invalid",
		},
		{
			name:   "both the plain and the URL-encoded forms are masked",
			values: []string{"a+b=c/d"},
			in:     "plain a+b=c/d encoded a%2Bb%3Dc%2Fd",
			want:   "plain [REDACTED] encoded [REDACTED]",
		},
		{
			name:   "a value of three characters is ignored",
			values: []string{"abc"},
			in:     "abc and abcabc",
			want:   "abc and abcabc",
		},
		{
			name:   "a value of four characters is masked",
			values: []string{"abcd"},
			in:     "abcd!",
			want:   "[REDACTED]!",
		},
		{
			name:   "an empty value is ignored",
			values: []string{""},
			in:     "nothing to hide",
			want:   "nothing to hide",
		},
		{
			name: "a URL password is masked and the user kept",
			in:   `Get "http://alice:hunter2pw@127.0.0.1:1/path": refused`,
			want: `Get "http://alice:[REDACTED]@127.0.0.1:1/path": refused`,
		},
		{
			name: "an empty URL password is masked",
			in:   "https://alice:@example.com/",
			want: "https://alice:[REDACTED]@example.com/",
		},
		{
			name: "a URL password containing a colon is masked whole",
			in:   "https://alice:pa:ss:wd@example.com/",
			want: "https://alice:[REDACTED]@example.com/",
		},
		{
			name: "passwords of several URLs are all masked",
			in:   "from http://a:one1@h1/ to https://b:two2@h2/",
			want: "from http://a:[REDACTED]@h1/ to https://b:[REDACTED]@h2/",
		},
		{
			name: "a URL without userinfo is unchanged",
			in:   "http://127.0.0.1:8080/path?page=2",
			want: "http://127.0.0.1:8080/path?page=2",
		},
		{
			name: "a token query parameter is masked",
			in:   "http://h/x?token=abc",
			want: "http://h/x?token=[REDACTED]",
		},
		{
			name: "an api_key query parameter after another one is masked",
			in:   "http://h/x?page=2&api_key=k3y-value&limit=5",
			want: "http://h/x?page=2&api_key=[REDACTED]&limit=5",
		},
		{
			name: "sensitive query parameter names match case-insensitively",
			in:   "http://h/x?ACCESS_TOKEN=abc&Password=def",
			want: "http://h/x?ACCESS_TOKEN=[REDACTED]&Password=[REDACTED]",
		},
		{
			name: "every listed credential parameter is masked",
			in:   "?apikey=1&auth=2&key=3&passwd=4&routing_key=5&secret=6&sig=7&signature=8&u=9&p=10",
			want: "?apikey=[REDACTED]&auth=[REDACTED]&key=[REDACTED]&passwd=[REDACTED]&routing_key=[REDACTED]&secret=[REDACTED]&sig=[REDACTED]&signature=[REDACTED]&u=[REDACTED]&p=[REDACTED]",
		},
		{
			name: "a quoted URL keeps its closing quote",
			in:   `Post "http://h/x?token=abc": EOF`,
			want: `Post "http://h/x?token=[REDACTED]": EOF`,
		},
		{
			name: "a parameter whose name only ends like a credential is kept",
			in:   "http://h/x?monkey=banana&keyboard=qwerty",
			want: "http://h/x?monkey=banana&keyboard=qwerty",
		},
		{
			name:   "registered values, URL passwords and query parameters are masked together",
			values: []string{"s3cr3t-value"},
			in:     "http://bob:pw12@h/hooks/s3cr3t-value?sig=abc",
			want:   "http://bob:[REDACTED]@h/hooks/[REDACTED]?sig=[REDACTED]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := secret.NewRedactor(tt.values...).Redact(tt.in)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRedactorAddRegistersMoreValues(t *testing.T) {
	t.Parallel()
	r := secret.NewRedactor("abcd")
	require.Equal(t, "[REDACTED]efgh", r.Redact("abcdefgh"))
	r.Add("abcdefgh", "xyz")
	require.Equal(t, "[REDACTED] xyz", r.Redact("abcdefgh xyz"))
}

func TestZeroAndNilRedactorMaskOnlyURLCredentials(t *testing.T) {
	t.Parallel()
	in := "http://alice:pw12@h/x?token=abc s3cr3t-value"
	want := "http://alice:[REDACTED]@h/x?token=[REDACTED] s3cr3t-value"
	var nilRedactor *secret.Redactor
	tests := []struct {
		name string
		r    *secret.Redactor
	}{
		{name: "a nil redactor masks URL credentials", r: nilRedactor},
		{name: "a zero redactor masks URL credentials", r: &secret.Redactor{}},
		{name: "a redactor without values masks URL credentials", r: secret.NewRedactor()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, want, tt.r.Redact(in))
			err := tt.r.Error(errors.New(in))
			require.EqualError(t, err, want)
			require.NoError(t, tt.r.Error(nil))
		})
	}
}

var errSentinel = errors.New("upstream refused")

type codeError struct{ Code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.Code) }

func TestRedactorErrorMasksAndKeepsTheChain(t *testing.T) {
	t.Parallel()
	r := secret.NewRedactor("s3cr3t-value")
	orig := fmt.Errorf("post %q: %w: %w", "http://h/hooks/s3cr3t-value?token=abc", errSentinel, &codeError{Code: 403})
	err := r.Error(orig)

	require.EqualError(t, err, `post "http://h/hooks/[REDACTED]?token=[REDACTED]": upstream refused: code 403`)
	require.ErrorIs(t, err, errSentinel)
	var ce *codeError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 403, ce.Code)
	require.Equal(t, orig, errors.Unwrap(err))
}

func TestRedactorErrorKeepsPathErrorReachable(t *testing.T) {
	t.Parallel()
	r := secret.NewRedactor("s3cr3t-value")
	_, orig := os.Open(filepath.Join(t.TempDir(), "s3cr3t-value"))
	require.Error(t, orig)
	err := r.Error(orig)

	require.NotContains(t, err.Error(), "s3cr3t-value")
	require.Contains(t, err.Error(), secret.Mask)
	require.ErrorIs(t, err, fs.ErrNotExist)
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe)
}

func TestRedactorErrorOfNilIsNil(t *testing.T) {
	t.Parallel()
	require.NoError(t, secret.NewRedactor("s3cr3t-value").Error(nil))
}

func TestRedactorIsSafeForConcurrentRedact(t *testing.T) {
	t.Parallel()
	r := secret.NewRedactor("s3cr3t-value", "other-secret")
	var wg sync.WaitGroup
	results := make([]string, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = r.Redact("a s3cr3t-value b other-secret")
		}()
	}
	wg.Wait()
	for _, got := range results {
		require.Equal(t, "a [REDACTED] b [REDACTED]", got)
	}
}

func TestRedactorMasksATokenUserAndKeepsSeparators(t *testing.T) {
	t.Parallel()
	r := secret.NewRedactor()
	require.Equal(t, "clone https://[REDACTED]@github.com/o/r failed", r.Redact("clone https://ghp_abcdefgh12345678@github.com/o/r failed"))
	require.Equal(t, "GET http://u:[REDACTED]@h/x", r.Redact("GET http://u:p@ss@w0rd@h/x"))
	require.Equal(t, "GET http://h/?token=[REDACTED]: giving up", r.Redact("GET http://h/?token=abc: giving up"))
	require.Equal(t, "see http://host:8080/path", r.Redact("see http://host:8080/path"), "a port is not a password")
}
