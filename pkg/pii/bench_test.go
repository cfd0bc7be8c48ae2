package pii

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// sampleLogs builds about n bytes of nginx, JSON and syslog lines with a
// few values to find, like a real log.
func sampleLogs(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	agents := []string{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36", "curl/8.5.0", "kube-probe/1.30"}
	for i := 0; b.Len() < n; i++ {
		ip := fmt.Sprintf("%d.%d.%d.%d", rng.IntN(223)+1, rng.IntN(256), rng.IntN(256), rng.IntN(256))
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "%s - - [23/Nov/2026:10:%02d:%02d +0000] \"GET /api/v2/orders/%d?page=%d HTTP/1.1\" 200 %d \"-\" \"%s\"\n",
				ip, rng.IntN(60), rng.IntN(60), rng.IntN(1e6), rng.IntN(20), rng.IntN(50000), agents[rng.IntN(len(agents))])
		case 1:
			fmt.Fprintf(&b, `{"ts_ns":%d,"level":"info","msg":"request done","route":"/checkout","status":200,"duration_ms":%d.%03d,"request_id":"%08x-%04x-%04x","client":"%s"}`+"\n",
				1763892012000000000+rng.Int64N(1e12), rng.IntN(900), rng.IntN(1000), rng.Uint32(), rng.IntN(65536), rng.IntN(65536), ip)
		default:
			fmt.Fprintf(&b, "Nov 23 10:%02d:%02d web-1 sshd[%d]: Accepted publickey for deploy from %s port %d ssh2: ED25519 SHA256:%x\n",
				rng.IntN(60), rng.IntN(60), rng.IntN(65536), ip, rng.IntN(65536), rng.Uint64())
		}
		if i%500 == 0 {
			b.WriteString(`{"level":"warn","msg":"payment failed","email":"jane.doe@example.com","card":"4111 1111 1111 1111"}` + "\n")
		}
	}
	return []byte(b.String())
}

func BenchmarkScan(b *testing.B) {
	data := sampleLogs(8 << 20)
	s, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	var buf Buffer
	found := 0
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		s.Scan(data, &buf, func(Match) { found++ })
	}
	if found == 0 {
		b.Fatal("nothing found")
	}
}
