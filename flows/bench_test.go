package flows

import (
	"fmt"
	"testing"

	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/topotest"
)

// loadBig loads a generated topology of hosts × 100 ports, 20 ports per
// switch (1,000 hosts: 100,000 ports, 5,000 switches).
func loadBig(b *testing.B, hosts int, extra string) *topology.Topology {
	return loadBigWith(b, topology.NewLoader(), hosts, extra)
}

// loadBigWith is loadBig through l, which parses again only what changed
// since its last load, as loomd's does.
func loadBigWith(b *testing.B, l *topology.Loader, hosts int, extra string) *topology.Topology {
	b.Helper()
	src := topotest.Generate(hosts, 100, 20)
	t, err := l.LoadBytes(map[string][]byte{"big.yaml": append(src, extra...)})
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkCompile compiles generated topologies from scratch: every
// switch's part and every host's state, whose flows are put together
// when asked (see BenchmarkHostFlows). It reports the flows of all hosts
// and of the largest.
func BenchmarkCompile(b *testing.B) {
	for _, hosts := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			t := loadBig(b, hosts, "")
			b.ReportAllocs()
			b.ResetTimer()
			c0 := cpuTime()
			total, largest := 0, 0
			for i := 0; i < b.N; i++ {
				states, err := Compile(t)
				if err != nil {
					b.Fatal(err)
				}
				total, largest = 0, 0
				for _, hs := range states {
					total += hs.NumFlows()
					largest = max(largest, hs.NumFlows())
				}
			}
			reportCPU(b, c0)
			b.ReportMetric(float64(total), "flows")
			b.ReportMetric(float64(largest), "flows/largest-host")
		})
	}
}

// BenchmarkCompileAllFlows is BenchmarkCompile and then every host's
// flows put together, one host at a time (all at once would not fit a
// small machine at 1,000 hosts): the previous compiler's whole work.
func BenchmarkCompileAllFlows(b *testing.B) {
	for _, hosts := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			t := loadBig(b, hosts, "")
			b.ReportAllocs()
			b.ResetTimer()
			c0 := cpuTime()
			defer reportCPU(b, c0)
			for i := 0; i < b.N; i++ {
				c, err := (*Compiled)(nil).Update(t)
				if err != nil {
					b.Fatal(err)
				}
				for _, hs := range c.States() {
					fs := merge(hs.flows.parts, hs.flows.me, hs.flows.n)
					if len(fs) != hs.NumFlows() {
						b.Fatalf("%d flows, want %d", len(fs), hs.NumFlows())
					}
				}
			}
		})
	}
}

// BenchmarkHostFlows puts one host's flows together from its parts (the
// first call of HostState.Flows).
func BenchmarkHostFlows(b *testing.B) {
	for _, tc := range []struct {
		name string
		t    func() *topology.Topology
	}{
		{"hosts=100", func() *topology.Topology { return loadBig(b, 100, "") }},
		{"lab=50x40", func() *topology.Topology { return loadLab(b, 50, 40, false) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			states, err := Compile(tc.t())
			if err != nil {
				b.Fatal(err)
			}
			hs := states[0]
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				merge(hs.flows.parts, hs.flows.me, hs.flows.n)
			}
			b.ReportMetric(float64(hs.NumFlows()), "flows")
		})
	}
}

// BenchmarkOnePortChange adds one port to a topology and compiles it
// from the previous compilation (Compiled.Update); it reports how many
// hosts' states change. Both topologies are loaded by one
// topology.Loader, as loomd loads them (objects that did not change then
// share their strings, which makes comparing them cheap). In the generated topologies each switch spans 20
// hosts at both sizes, so 21 hosts change either way (the 20 that carry
// the switch and the new port's host); lab=50x40 is e2e's 2,000 ports on
// 3 hosts (50 switches of 40 ports, each on the 3 hosts), where loomd
// adds a port in the lab benchmarks.
func BenchmarkOnePortChange(b *testing.B) {
	const newPort = `  - name: pnew
    switch: s7
    host: h3
    mac: "02:ff:00:00:00:01"
    ips: [10.191.255.1]
    interface: vifnew
`
	var l *topology.Loader
	for _, tc := range []struct {
		name          string
		before, after func() *topology.Topology
	}{
		{"hosts=100", func() *topology.Topology { return loadBigWith(b, l, 100, "") }, func() *topology.Topology { return loadBigWith(b, l, 100, newPort) }},
		{"hosts=1000", func() *topology.Topology { return loadBigWith(b, l, 1000, "") }, func() *topology.Topology { return loadBigWith(b, l, 1000, newPort) }},
		{"lab=50x40", func() *topology.Topology { return loadLabWith(b, l, 50, 40, false) }, func() *topology.Topology { return loadLabWith(b, l, 50, 40, true) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l = topology.NewLoader()
			before, err := (*Compiled)(nil).Update(tc.before())
			if err != nil {
				b.Fatal(err)
			}
			after := tc.after()
			b.ReportAllocs()
			b.ResetTimer()
			var next *Compiled
			c0 := cpuTime()
			for i := 0; i < b.N; i++ {
				if next, err = before.Update(after); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, c0)
			b.ReportMetric(float64(len(next.Changed())), "hosts-changed")
			mods := 0
			for _, h := range next.Changed() {
				if old := before.Host(h); old != nil {
					d := Delta(old, next.Host(h))
					mods = max(mods, len(d.Add)+len(d.Modify)+len(d.Delete))
				}
			}
			b.ReportMetric(float64(mods), "flow-mods/host")
		})
	}
}

// BenchmarkOnePortFollow is what follows Update for a host that one port
// changes, on e2e's 50×40 lab (11,810 flows a host): the delta from the
// previous state (Delta), and the new state's flows (HostState.Flows,
// patched from the previous state's, which were put together before).
func BenchmarkOnePortFollow(b *testing.B) {
	l := topology.NewLoader()
	before, err := (*Compiled)(nil).Update(loadLabWith(b, l, 50, 40, false))
	if err != nil {
		b.Fatal(err)
	}
	after := loadLabWith(b, l, 50, 40, true)
	old := before.Host("h1")
	old.Flows()
	b.Run("delta", func(b *testing.B) {
		next, _ := before.Update(after)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			Delta(old, next.Host("h1"))
		}
	})
	b.Run("flows", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			next, _ := before.Update(after)
			b.StartTimer()
			next.Host("h1").Flows()
		}
	})
}

func loadLab(b *testing.B, S, P int, withNew bool) *topology.Topology {
	return loadLabWith(b, topology.NewLoader(), S, P, withNew)
}

func loadLabWith(b *testing.B, l *topology.Loader, S, P int, withNew bool) *topology.Topology {
	b.Helper()
	t, err := l.LoadBytes(map[string][]byte{"lab.yaml": topotest.Lab(S, P, withNew, nil)})
	if err != nil {
		b.Fatal(err)
	}
	return t
}
