package main

import (
	"encoding/json"
	"math/rand/v2"
	"strings"

	"github.com/google/uuid"
	corev2 "github.com/sensu/sensu-go/api/core/v2"
)

// typicalEvent is what mutator-redact is timed on: a failing log check
// whose output carries about 4 KB of app log lines, three of them with an
// email address and one with a card number.
func typicalEvent() ([]byte, error) {
	r := rand.New(rand.NewPCG(7, 7))
	l := newLiner(r, 1000)
	var out strings.Builder
	out.WriteString("check-app-log CRITICAL - 11 lines matched ERROR|WARN in /var/log/app/app.jsonl\n")
	planted := map[int]func(){
		2: func() { appField("warn", "auth", "msg", "login failed for ", "")(l, email(r, false)) },
		5: func() {
			v, _ := card(r, true)
			appField("warn", "checkout", "msg", "payment declined for card ", " (code 05)")(l, v)
		},
		7: func() { appField("info", "auth", "email", "", "")(l, email(r, false)) },
		9: func() { appField("info", "checkout", "customer_email", "", "")(l, email(r, false)) },
	}
	for i := 0; out.Len() < 4000; i++ {
		l.tick()
		if p, ok := planted[i]; ok {
			p()
		} else {
			l.appBackground()
		}
		out.Write(l.b)
		out.WriteByte('\n')
	}
	ev := corev2.FixtureEvent("web-01", "check-app-log")
	id := uuid.MustParse("5f0c2a4e-8d1b-4c3a-9e7f-2b6d8a1c0e93") // the fixture's is random
	ev.ID = id[:]
	ev.Timestamp = epoch.Unix() + 36000
	ev.Check.Executed = ev.Timestamp
	ev.Check.Issued = ev.Timestamp
	ev.Check.Status = 2
	ev.Check.Output = out.String()
	return json.Marshal(ev)
}
