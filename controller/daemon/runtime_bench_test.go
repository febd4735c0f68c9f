package daemon

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
)

// BenchmarkRuntimePortAdd: what loomd does for a runtime port's ADD at
// 2,000 ports of the files (50 switches × 40 ports on 3 hosts; switch s0
// has a pool), in process (no HTTP, no host contacted): one ADD at a
// time (its DEL untimed), and bursts of 200 ADDs at once over 3 hosts
// (each call's latency; the ports deleted again, untimed).
func BenchmarkRuntimePortAdd(b *testing.B) {
	d, err := New(Config{Log: zap.NewNop(), StateDir: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	files := strings.Replace(string(benchTopology(50, 40)), "{name: s0, tunnelKey: 1}", "{name: s0, tunnelKey: 1, subnets: [10.0.0.0/16]}", 1)
	if _, err := d.Put(api.TopologyUpdate{Files: map[string]string{"net.yaml": files}}); err != nil {
		b.Fatal(err)
	}
	req := func(i int) api.RuntimePortRequest {
		return api.RuntimePortRequest{Switch: "s0", Host: fmt.Sprintf("h%d", i%3+1), Runtime: "cni",
			ContainerID: fmt.Sprintf("bench%d", i), IfName: "eth0", Interface: fmt.Sprintf("vb%d", i)}
	}
	step := func(ts []api.Timing, name string) (ms float64) {
		for _, s := range ts {
			if s.Step == name {
				ms += s.Ms
			}
		}
		return ms
	}
	b.Run("one", func(b *testing.B) {
		var resolve, compile, store float64
		for i := 0; i < b.N; i++ {
			res, err := d.AddRuntimePort(req(i))
			if err != nil {
				b.Fatal(err)
			}
			resolve, compile, store = resolve+step(res.Timings, "resolve"), compile+step(res.Timings, "compile"), store+step(res.Timings, "store")
			b.StopTimer()
			if _, err := d.DeleteRuntimePort(res.Name, "", ""); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		n := float64(b.N)
		b.ReportMetric(resolve/n, "resolve-ms/op")
		b.ReportMetric(compile/n, "compile-ms/op")
		b.ReportMetric(store/n, "store-ms/op")
	})
	b.Run("burst200", func(b *testing.B) {
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				names []string
			)
			for j := 0; j < 200; j++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					res, err := d.AddRuntimePort(req(i*1000 + j))
					took := time.Since(start)
					if err != nil {
						b.Error(err)
						return
					}
					mu.Lock()
					lat, names = append(lat, took), append(names, res.Name)
					mu.Unlock()
				}()
			}
			wg.Wait()
			b.StopTimer()
			for _, n := range names {
				if _, err := d.DeleteRuntimePort(n, "", ""); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		if len(lat) > 0 {
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms/add")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms/add")
		}
	})
}

// BenchmarkResolve: loomd's own step for every change (runtime ports and
// auto addresses put into the files' topology) at 2,000 ports of the
// files and 200 runtime ports, all addresses already handed out.
func BenchmarkResolve(b *testing.B) {
	d, err := New(Config{Log: zap.NewNop(), StateDir: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	files := strings.Replace(string(benchTopology(50, 40)), "{name: s0, tunnelKey: 1}", "{name: s0, tunnelKey: 1, subnets: [10.0.0.0/16]}", 1)
	if _, err := d.Put(api.TopologyUpdate{Files: map[string]string{"net.yaml": files}}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if _, err := d.AddRuntimePort(api.RuntimePortRequest{Switch: "s0", Host: fmt.Sprintf("h%d", i%3+1), Runtime: "cni",
			ContainerID: fmt.Sprintf("r%d", i), IfName: "eth0", Interface: fmt.Sprintf("vr%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := resolve(d.base, d.st.Runtime, false); err != nil {
			b.Fatal(err)
		}
	}
}
