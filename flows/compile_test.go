package flows

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden renders a host's desired state as the golden files hold it: the
// ports, then each flow followed by the object behind it, by table,
// priority (high first) and text.
func golden(hs *HostState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# host %s: bridge %s (datapath %s, listener %s)\n", hs.Host, hs.Bridge, hs.DatapathType, hs.ControllerTarget)
	for _, p := range hs.Ports {
		fmt.Fprintf(&b, "# port %s type=%q ofport=%d options=%v external_ids=%v\n", p.Name, p.Type, p.Ofport, p.Options, p.ExternalIDs)
	}
	type line struct {
		f    *Flow
		text string
	}
	fs := hs.Flows()
	lines := make([]line, len(fs))
	for i := range fs {
		lines[i] = line{&fs[i], fs[i].String()}
	}
	slices.SortStableFunc(lines, func(x, y line) int {
		if c := cmp.Compare(x.f.Table, y.f.Table); c != 0 {
			return c
		}
		if c := cmp.Compare(y.f.Priority, x.f.Priority); c != 0 {
			return c
		}
		return strings.Compare(x.text, y.text)
	})
	for _, l := range lines {
		fmt.Fprintf(&b, "%s\n  # %s\n", l.text, l.f.Origin)
	}
	return b.String()
}

func cases(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	examples, _ := filepath.Glob("../deploy/examples/*.yaml")
	for _, f := range examples {
		m[strings.TrimSuffix(filepath.Base(f), ".yaml")] = f
	}
	dirs, _ := filepath.Glob("testdata/*/topology.yaml")
	for _, d := range dirs {
		m[filepath.Base(filepath.Dir(d))] = d
	}
	return m
}

func TestGolden(t *testing.T) {
	for name, file := range cases(t) {
		t.Run(name, func(t *testing.T) {
			topo, err := topology.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			hosts, err := Compile(topo)
			if err != nil {
				t.Fatal(err)
			}
			for _, hs := range hosts {
				path := filepath.Join("testdata", name, hs.Host+".flows")
				got := golden(hs)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./flows -update)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from the compiler's output (go test ./flows -update rewrites it):\n%s", path, got)
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	topo, err := topology.Load("testdata/three-ports/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := CompileHost(topo, "h1")
	for i := 0; i < 20; i++ {
		b, _ := CompileHost(topo, "h1")
		ta := a.FlowText()
		tb := b.FlowText()
		if !bytes.Equal(ta, tb) {
			t.Fatal("two compilations differ")
		}
	}
}

func TestCookies(t *testing.T) {
	topo, err := topology.Load("testdata/three-ports/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hs, _ := CompileHost(topo, "h1")
	for _, f := range hs.Flows() {
		if f.Cookie&CookieMask != CookieSpace {
			t.Errorf("flow %v outside Loom's cookie space", f.Origin)
		}
		if got, want := Explain(topo, f.Cookie), f.Origin.String(); got != want {
			t.Errorf("Explain(%#x) = %q, want %q", f.Cookie, got, want)
		}
	}
	if got := Explain(topo, 0x1234); !strings.Contains(got, "not Loom's") {
		t.Errorf("foreign cookie explained as %q", got)
	}
	if got := Explain(topo, MakeCookie(KindPort, RuleL2Local, 7)); !strings.Contains(got, "stale") {
		t.Errorf("unknown port explained as %q", got)
	}
}

// Each flow of the pipeline is where the design says it is: a port's
// traffic enters by its interface's OpenFlow port, remote ports are reached
// through the tunnel to their host, and flooding from a tunnel never goes
// back into a tunnel.
func TestPipelineShape(t *testing.T) {
	topo, err := topology.Load("testdata/three-ports/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hs, _ := CompileHost(topo, "h1")
	h2, _ := topo.Host("h2")
	tun := fmt.Sprintf("output:%d", TunnelPortBase("gre")+int(h2.Key))
	for _, f := range hs.Flows() {
		s := f.String()
		switch f.Origin.Rule {
		case RuleFloodFromOverlay:
			if strings.Contains(s, fmt.Sprintf("load:0x%x->", HostEgressBase+h2.Key)) {
				t.Errorf("flood from tunnel goes back to a tunnel: %s", s)
			}
		case RuleOutputRemote:
			if !strings.Contains(s, tun) || !strings.Contains(s, "set_field:0x64->tun_id") {
				t.Errorf("remote output does not use the tunnel with key 100: %s", s)
			}
		}
	}
	if len(hs.Ports) != 3 || hs.Ports[0].Name != "gre-h2" || hs.Ports[0].Options["remote_ip"] != "198.19.0.12" {
		t.Errorf("ports: %+v", hs.Ports)
	}
}
