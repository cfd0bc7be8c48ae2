package redact

import (
	"strings"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/pii"
)

func redactor(t *testing.T, tokenize bool) *Redactor {
	t.Helper()
	s, err := pii.New(pii.Options{})
	require.NoError(t, err)
	var fp *pii.Fingerprinter
	if tokenize {
		fp, err = pii.NewFingerprinter([]byte("redaction-test-key"))
		require.NoError(t, err)
	}
	return New(s, fp)
}

type nested struct {
	Text    string
	Ptr     *string
	List    []string
	Map     map[string]string
	Structs map[string]inner
	Any     any
	Bytes   []byte
	secret  string
}

type inner struct{ Note string }

func TestEveryReachableStringIsScrubbedAndKeysAreKept(t *testing.T) {
	t.Parallel()
	p := "call +44 20 7946 0958"
	v := &nested{
		Text:    "payment failed for jane.doe@example.com card 4111 1111 1111 1111",
		Ptr:     &p,
		List:    []string{"ok", "\nSSN 219-09-9998"},
		Map:     map[string]string{"jane.doe@example.com": "owner bob@example.org"},
		Structs: map[string]inner{"a": {Note: "mail carol@example.net"}},
		Any:     "iban DE89370400440532013000",
		Bytes:   []byte("dave@example.com"),
		secret:  "erin@example.com",
	}
	counts := redactor(t, false).Value(v)
	require.Equal(t, "payment failed for [REDACTED:pii.email] card [REDACTED:pii.credit_card]", v.Text)
	require.Equal(t, "call [REDACTED:pii.phone]", *v.Ptr)
	require.Equal(t, "\nSSN [REDACTED:pii.us_ssn]", v.List[1])
	require.Equal(t, map[string]string{"jane.doe@example.com": "owner [REDACTED:pii.email]"}, v.Map, "keys name things; values are scrubbed")
	require.Equal(t, "mail [REDACTED:pii.email]", v.Structs["a"].Note)
	require.Equal(t, "iban [REDACTED:pii.iban]", v.Any, "a string in an interface is replaced whole")
	require.Equal(t, "dave@example.com", string(v.Bytes), "bytes are not text")
	require.Equal(t, "erin@example.com", v.secret, "unexported fields are not reachable")
	require.Equal(t, Counts{pii.Email: 3, pii.CreditCard: 1, pii.Phone: 1, pii.USSSN: 1, pii.IBAN: 1}, counts)
	require.Equal(t, 7, counts.Total())
	require.Equal(t, []string{pii.CreditCard, pii.Email, pii.IBAN, pii.Phone, pii.USSSN}, counts.Rules())
}

func TestASensuEventIsScrubbedEverywhere(t *testing.T) {
	t.Parallel()
	ev := corev2.FixtureEvent("web-1", "check-x")
	ev.Check.Output = "login failed for jane.doe@example.com"
	ev.Check.Command = "check --token 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"
	ev.Check.Hooks = []*corev2.Hook{{Output: "card 4111-1111-1111-1111"}}
	ev.Entity.Labels = map[string]string{"contact": "bob@example.org"}
	ev.Metrics = &corev2.Metrics{Points: []*corev2.MetricPoint{{Name: "x", Tags: []*corev2.MetricTag{{Name: "user", Value: "carol@example.net"}}}}}
	counts := redactor(t, false).Value(ev)
	require.Equal(t, "login failed for [REDACTED:pii.email]", ev.Check.Output)
	require.Equal(t, "card [REDACTED:pii.credit_card]", ev.Check.Hooks[0].Output)
	require.Equal(t, "[REDACTED:pii.email]", ev.Entity.Labels["contact"])
	require.Equal(t, "[REDACTED:pii.email]", ev.Metrics.Points[0].Tags[0].Value)
	require.Equal(t, 4, counts[pii.Email]+counts[pii.CreditCard]+counts[pii.GitHubToken]-counts[pii.GitHubToken])
	require.NoError(t, ev.Validate())
}

func TestTokensCorrelateWithoutTheValue(t *testing.T) {
	t.Parallel()
	v := &[]string{"mail jane@example.com", "again jane@example.com", "other joe@example.com"}
	redactor(t, true).Value(v)
	tok := func(s string) string { return s[strings.Index(s, "["):] }
	require.Equal(t, tok((*v)[0]), tok((*v)[1]), "the same value, the same token")
	require.NotEqual(t, tok((*v)[0]), tok((*v)[2]))
	require.True(t, strings.HasPrefix(tok((*v)[0]), "[pii.email:"))
}

func TestNothingToRedactChangesNothing(t *testing.T) {
	t.Parallel()
	v := &nested{Text: "all good: 200 OK in 12 ms", Map: map[string]string{"a": "b"}}
	require.Zero(t, redactor(t, false).Value(v).Total())
	require.Equal(t, "all good: 200 OK in 12 ms", v.Text)
}

func TestEventRecordsTheCountsOnTheCheckOrTheEvent(t *testing.T) {
	t.Parallel()
	r := redactor(t, false)
	withCheck := corev2.FixtureEvent("web-1", "app")
	withCheck.Check.Output = "to jane.doe@example.com and bob@example.org"
	require.Equal(t, Counts{"pii.email": 2}, r.Event(withCheck))
	require.JSONEq(t, `{"pii.email":2}`, withCheck.Check.Annotations[Annotation])
	require.Equal(t, "to [REDACTED:pii.email] and [REDACTED:pii.email]", withCheck.Check.Output)

	metricsOnly := corev2.FixtureEvent("web-1", "app")
	metricsOnly.Check = nil
	metricsOnly.Entity.Labels = map[string]string{"owner": "jane.doe@example.com"}
	r.Event(metricsOnly)
	require.JSONEq(t, `{"pii.email":1}`, metricsOnly.Annotations[Annotation])

	clean := corev2.FixtureEvent("web-1", "app")
	r.Event(clean)
	require.JSONEq(t, `{}`, clean.Check.Annotations[Annotation])
}

func TestValuesBehindInterfacesAreScrubbed(t *testing.T) {
	t.Parallel()
	// What encoding/json decodes into `any`, and a struct held by value.
	v := &map[string]any{
		"owner":  "jane.doe@example.com",
		"cards":  []any{"4111 1111 1111 1111", 42.0, nil},
		"nested": map[string]any{"contact": "call +44 20 7946 0958"},
		"struct": inner{Note: "mail carol@example.net"},
		"clean":  "nothing here",
	}
	counts := redactor(t, false).Value(v)
	require.Equal(t, map[string]any{
		"owner":  "[REDACTED:pii.email]",
		"cards":  []any{"[REDACTED:pii.credit_card]", 42.0, nil},
		"nested": map[string]any{"contact": "call [REDACTED:pii.phone]"},
		"struct": inner{Note: "mail [REDACTED:pii.email]"},
		"clean":  "nothing here",
	}, *v)
	require.Equal(t, Counts{pii.Email: 2, pii.CreditCard: 1, pii.Phone: 1}, counts)
}
