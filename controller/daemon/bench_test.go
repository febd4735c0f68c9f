package daemon

import (
	"fmt"
	"testing"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology/edit"
	"github.com/loom-sdn/loom/topology/topotest"
)

// BenchmarkPutOnePort measures what loomd does for `loomctl port add` on a
// large topology: load the whole topology with one port more, compile the
// hosts it changes and store it (the reconcilers are not running: no host
// is contacted). loomctl's own edit of the YAML is not timed.
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
