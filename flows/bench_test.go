package flows

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/topotest"
)

// loadBig loads a generated topology of hosts × 100 ports, 20 ports per
// switch (1,000 hosts: 100,000 ports, 5,000 switches).
func loadBig(b *testing.B, hosts int, extra string) *topology.Topology {
	b.Helper()
	src := topotest.Generate(hosts, 100, 20)
	t, err := topology.LoadBytes(map[string][]byte{"big.yaml": append(src, extra...)})
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkCompile compiles every host of generated topologies, one host
// at a time (all hosts' flows at once would not fit a small machine), and
// reports the flows of all hosts and of the largest.
func BenchmarkCompile(b *testing.B) {
	for _, hosts := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			t := loadBig(b, hosts, "")
			b.ReportAllocs()
			b.ResetTimer()
			total, largest := 0, 0
			for i := 0; i < b.N; i++ {
				total, largest = 0, 0
				ix := newIndex(t)
				for h := range t.Hosts {
					hs, err := compileHost(ix, &t.Hosts[h])
					if err != nil {
						b.Fatal(err)
					}
					total += len(hs.Flows)
					largest = max(largest, len(hs.Flows))
				}
			}
			b.ReportMetric(float64(total), "flows")
			b.ReportMetric(float64(largest), "flows/largest-host")
		})
	}
}

// BenchmarkOnePortChange adds one port to a generated topology and
// recompiles the hosts whose output changes; it reports how many do. Each
// switch spans 20 hosts at both sizes, so 21 hosts change either way; the
// 100-host size is the one make bench runs (finding the touched hosts
// compiles every host twice, outside the timer: minutes at 1,000 hosts).
func BenchmarkOnePortChange(b *testing.B) {
	for _, hosts := range []int{100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			benchOnePortChange(b, hosts)
		})
	}
}

func benchOnePortChange(b *testing.B, hosts int) {
	before := loadBig(b, hosts, "")
	after := loadBig(b, hosts, `  - name: pnew
    switch: s7
    host: h3
    mac: "02:ff:00:00:00:01"
    ips: [10.191.255.1]
    interface: vifnew
`)
	// Which hosts' outputs differ: those carrying s7 (19 remote hosts and
	// h3 itself). Found once, outside the timer.
	var touched []int
	ixa, ixb := newIndex(before), newIndex(after)
	for h := range after.Hosts {
		x, _ := compileHost(ixa, &before.Hosts[h])
		y, _ := compileHost(ixb, &after.Hosts[h])
		tx := x.FlowText()
		ty := y.FlowText()
		if !bytes.Equal(tx, ty) || len(x.Ports) != len(y.Ports) {
			touched = append(touched, h)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ix := newIndex(after)
		for _, h := range touched {
			if _, err := compileHost(ix, &after.Hosts[h]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(touched)), "hosts-touched")
}
