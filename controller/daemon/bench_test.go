package daemon

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/edit"
	"github.com/loom-sdn/loom/topology/topotest"
)

// BenchmarkPutOnePort measures what loomd does for a PUT of the topology
// with one port more, as loomctl's edits sent before loomd took edits:
// load the whole topology, compile the hosts it changes and store it (the
// reconcilers are not running: no host is contacted). The client's part
// (GET, edit, validate) is not timed.
func BenchmarkPutOnePort(b *testing.B) {
	for _, size := range []struct{ hosts, ports int }{{10, 20}, {100, 40}} {
		b.Run(fmt.Sprintf("%dx%d", size.hosts, size.ports), func(b *testing.B) {
			d, err := New(Config{Log: zap.NewNop(), StateDir: b.TempDir()}, nil)
			if err != nil {
				b.Fatal(err)
			}
			files := edit.Files{"net.yaml": topotest.Generate(size.hosts, size.ports, 20)}
			if _, err := d.Put(api.TopologyUpdate{Revision: 0, Files: api.FilesOf(files)}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				name := fmt.Sprintf("bench%d", i)
				next, err := edit.Add(files, edit.Ports, name, []edit.Field{{Key: "switch", Value: "s1"},
					{Key: "host", Value: "h1"}, {Key: "mac", Value: "auto"}, {Key: "interface", Value: "lm-" + name}})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := d.Put(api.TopologyUpdate{Revision: int64(i + 1), Files: api.FilesOf(next)}); err != nil {
					b.Fatal(err)
				}
				files = next
			}
		})
	}
}

// benchTopology is the topology of e2e's TestBenchConverge: 3 hosts, S
// overlay switches of P ports each, one entry a line.
func benchTopology(S, P int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n")
	for h := 1; h <= 3; h++ {
		fmt.Fprintf(&b, "  - {name: h%d, ovsdb: \"tcp:127.0.0.1:%d\", tunnelIP: 198.19.0.%d, datapathType: netdev}\n", h, h, 10+h)
	}
	b.WriteString("switches:\n")
	for s := 0; s < S; s++ {
		fmt.Fprintf(&b, "  - {name: s%d, tunnelKey: %d}\n", s, s+1)
	}
	b.WriteString("ports:\n")
	for s := 0; s < S; s++ {
		for j := 0; j < P; j++ {
			fmt.Fprintf(&b, "  - {name: s%dp%d, switch: s%d, host: h%d, mac: \"02:00:00:%02x:00:%02x\", ips: [10.%d.0.%d], interface: lm-x%d-%d}\n",
				s, j, s, j%3+1, s, j+1, s, j+1, s, j)
		}
	}
	return []byte(b.String())
}

// BenchmarkEditOnePort: what loomd does for `loomctl port add` at 2,000
// ports (50 switches × 40 ports on 3 hosts), and the path loomctl took
// before: edit (POST edits, in process: no HTTP) against GET, the
// whole-file edit, validation and PUT with a Loader that starts empty (as
// loomd parsed every file before). The port is deleted again, untimed.
// Compile: the same in both; -bench '/nocompile' leaves the compile out
// (flows.Compiled.Update is another package's cost) by timing the
// steps loomd reports without it.
func BenchmarkEditOnePort(b *testing.B) {
	d, err := New(Config{Log: zap.NewNop(), StateDir: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.Put(api.TopologyUpdate{Files: map[string]string{"net.yaml": string(benchTopology(50, 40))}}); err != nil {
		b.Fatal(err)
	}
	add := func(name string) api.EditRequest {
		return api.EditRequest{Edits: []api.Edit{{Op: "add", Kind: "port", Name: name, Fields: api.Fields{
			{Key: "switch", Value: []byte(`"s0"`)}, {Key: "host", Value: []byte(`"h3"`)}, {Key: "mac", Value: []byte(`"auto"`)},
			{Key: "interface", Value: []byte(`"lm-` + name + `"`)}}}}}
	}
	del := func(name string) api.EditRequest {
		return api.EditRequest{Edits: []api.Edit{{Op: "del", Kind: "port", Name: name}}}
	}
	compileMs := func(ts []api.Timing) (ms float64) {
		for _, s := range ts {
			if s.Step == "compile" {
				ms += s.Ms
			}
		}
		return ms
	}
	b.Run("edit", func(b *testing.B) {
		var compile float64
		for i := 0; i < b.N; i++ {
			name := fmt.Sprintf("e%d", i)
			res, err := d.Edit(add(name))
			if err != nil {
				b.Fatal(err)
			}
			compile += compileMs(res.Timings)
			b.StopTimer()
			if _, err := d.Edit(del(name)); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(compile/float64(b.N), "compile-ms/op")
	})
	b.Run("before", func(b *testing.B) {
		var compile float64
		for i := 0; i < b.N; i++ {
			name := fmt.Sprintf("o%d", i)
			d.writeMu.Lock()
			d.loader = topology.NewLoader()
			d.writeMu.Unlock()
			cur := d.Topology()
			files, err := edit.Add(edit.Files(api.BytesOf(cur.Files)), edit.Ports, name, []edit.Field{{Key: "switch", Value: "s0"},
				{Key: "host", Value: "h3"}, {Key: "mac", Value: "auto"}, {Key: "interface", Value: "lm-" + name}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := topology.LoadBytes(files); err != nil {
				b.Fatal(err)
			}
			a, err := d.Put(api.TopologyUpdate{Revision: cur.Revision, Files: api.FilesOf(files)})
			if err != nil {
				b.Fatal(err)
			}
			compile += compileMs(a.Timings)
			b.StopTimer()
			if _, err := d.Edit(del(name)); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(compile/float64(b.N), "compile-ms/op")
	})
}
