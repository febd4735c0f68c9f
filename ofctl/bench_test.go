package ofctl

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/topotest"
)

// host50k is host h0 of topotest.Generate(20, 400, 20): about 50,000 flows,
// the largest push of e2e's TestBenchPush.
func host50k(b *testing.B) *flows.HostState {
	b.Helper()
	topo, err := topology.LoadBytes(map[string][]byte{"g.yaml": topotest.Generate(20, 400, 20)})
	if err != nil {
		b.Fatal(err)
	}
	hs, err := flows.CompileHost(topo, "h0")
	if err != nil {
		b.Fatal(err)
	}
	return hs
}

// The Go side of a bundle of every flow of a 50,000-flow host: what
// go-openvswitch does with Loom's text (its own Flow.MarshalText joining
// the pieces, and a line per flow with fmt), against writing the lines
// directly; ovs-ofctl is replaced by a pipe to nowhere.
func BenchmarkBundle(b *testing.B) {
	hs := host50k(b)
	p := PlanEmpty(hs.Flows())
	b.Run("go-openvswitch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			client := ovs.New(ovs.Protocols([]string{ovs.ProtocolOpenFlow13}), ovs.Pipe(func(stdin io.Reader, cmd string, args ...string) ([]byte, error) {
				_, err := io.Copy(io.Discard, stdin)
				return nil, err
			}))
			adds := ovsFlows(p.Adds)
			err := client.OpenFlow.AddFlowBundle("tcp:127.0.0.1:6653", func(tx *ovs.FlowTransaction) error {
				tx.Add(adds...)
				return tx.Commit()
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(p.Adds)), "flows")
	})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			line := make([]byte, 0, 512)
			for i := range p.Adds {
				line = append(line[:0], "add "...)
				line = p.Adds[i].AppendText(line)
				line = append(line, '\n')
				buf.Write(line)
			}
			io.Copy(io.Discard, &buf) //nolint:errcheck
		}
		b.ReportMetric(float64(len(p.Adds)), "flows")
	})
}

// Reading a dump of a 50,000-flow host and comparing it with the desired
// flows, as a no-op reconcile does after ovs-ofctl's dump.
func BenchmarkParseAndCompare(b *testing.B) {
	hs := host50k(b)
	dump := hs.FlowText()
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseDump(dump); err != nil {
				b.Fatal(err)
			}
		}
	})
	obs, err := ParseDump(dump)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("compare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := PlanFlows(hs.Flows(), obs)
			if err != nil || !p.Empty() {
				b.Fatal(err)
			}
		}
	})
	// As OVS dumps them: in another order.
	shuffled := &Observed{Flows: append([]flows.Flow(nil), obs.Flows...)}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled.Flows), func(i, j int) {
		shuffled.Flows[i], shuffled.Flows[j] = shuffled.Flows[j], shuffled.Flows[i]
	})
	b.Run("compare-dump-order", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := PlanFlows(hs.Flows(), shuffled)
			if err != nil || !p.Empty() {
				b.Fatal(err)
			}
		}
	})
	b.Run("delta", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if p := PlanDelta(hs.Flows(), obs.Flows); !p.Empty() {
				b.Fatal("not empty")
			}
		}
	})
}
