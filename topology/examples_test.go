package topology_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
)

const examplesDir = "../deploy/examples"

// The examples docs/topology.md shows; more may be added.
var promisedExamples = []string{
	"acls.yaml", "external-vtep.yaml", "l2-gateway.yaml",
	"three-hosts-overlay.yaml", "two-hosts.yaml", "vlan-trunk.yaml",
}

var schemaComment = regexp.MustCompile(`^# yaml-language-server: \$schema=(\S+)$`)

func examples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	for _, want := range promisedExamples {
		if !slices.Contains(names, want) {
			t.Errorf("%s/%s is missing", examplesDir, want)
		}
	}
	return files
}

// Every example is a valid topology without warnings, points editors at
// the published schema, says what it shows, and is listed in the guide.
func TestExamples(t *testing.T) {
	guide, err := os.ReadFile("../docs/topology.md")
	if err != nil {
		t.Fatal(err)
	}
	schema, err := filepath.Abs(filepath.Join("..", topology.SchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range examples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			topo, err := topology.Load(f)
			if err != nil {
				t.Fatalf("invalid:\n%v", err)
			}
			if len(topo.Warnings) > 0 {
				t.Errorf("warnings:\n%v", topo.Warnings)
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(src), "\n")
			m := schemaComment.FindStringSubmatch(lines[0])
			if m == nil {
				t.Fatalf("first line %q, want # yaml-language-server: $schema=PATH", lines[0])
			}
			target, err := filepath.Abs(filepath.Join(filepath.Dir(f), m[1]))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("schema comment: %v", err)
			} else if target != schema {
				t.Errorf("schema comment points at %s, want %s", m[1], topology.SchemaFile)
			}
			described := false
			for _, l := range lines[1:] {
				if strings.HasPrefix(l, "apiVersion:") {
					break
				}
				described = described || len(strings.TrimSpace(strings.TrimPrefix(l, "#"))) > 0
			}
			if !described {
				t.Error("no comment before apiVersion says what the example shows")
			}
			if !strings.Contains(string(guide), "(../deploy/examples/"+filepath.Base(f)+")") {
				t.Errorf("docs/topology.md does not link to it")
			}
		})
	}
}

// An example says in its header whether this version can apply it ("...
// refuse ...") or not; the compiler must agree, so that the header is
// updated when the compiler learns more.
func TestExamplesSayWhetherTheyApply(t *testing.T) {
	for _, f := range examples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			topo, err := topology.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			header, _, _ := strings.Cut(string(src), "\napiVersion:")
			_, cerr := flows.Compile(topo)
			switch says := strings.Contains(header, "refuse"); {
			case says && cerr == nil:
				t.Error("the header says loomctl apply refuses it, but it compiles: update the header")
			case !says && cerr != nil:
				t.Errorf("does not compile, and the header does not say that apply refuses it:\n%v", cerr)
			}
		})
	}
}

// two-hosts.yaml is the walking skeleton's demo: deploy/demo.sh applies it
// to a two-host lab whose workloads it makes itself. It must stay a
// topology of that lab that this version can apply.
func TestTwoHostsIsTheDemo(t *testing.T) {
	const file = examplesDir + "/two-hosts.yaml"
	demo, err := os.ReadFile("../deploy/demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(demo), "topo=deploy/examples/two-hosts.yaml") || !strings.Contains(string(demo), `loomctl apply -f "$topo"`) {
		t.Error("deploy/demo.sh no longer applies deploy/examples/two-hosts.yaml")
	}
	topo, err := topology.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	// The lab: host hN at 198.18.0.(10+N), tunnel IP 198.19.0.(10+N),
	// userspace datapath.
	if len(topo.Hosts) != 2 {
		t.Fatalf("%d hosts, want the lab's 2", len(topo.Hosts))
	}
	for i, h := range topo.Hosts {
		n := string(rune('1' + i))
		if h.Name != "h"+n || h.OVSDB != "tcp:198.18.0.1"+n+":6640" || h.TunnelIP.String() != "198.19.0.1"+n || h.DatapathType != "netdev" {
			t.Errorf("host %d is not lab host h%s: %+v", i+1, n, h)
		}
	}
	if len(topo.Switches) != 1 || topo.Switches[0].Encapsulation != "gre" || topo.Switches[0].ACLDefault != "allow" {
		t.Errorf("want one GRE overlay switch without ACLs: %+v", topo.Switches)
	}
	if len(topo.ACLs)+len(topo.L2Gateways)+len(topo.ExternalEndpoints) > 0 {
		t.Error("ACLs, gateways or external endpoints in the demo")
	}
	// Each port is a workload the demo makes: workload add HOST NAME MAC IP/LEN.
	made := map[string]string{}
	for _, m := range regexp.MustCompile(`workload add (\S+) (\S+) (\S+) ([0-9.]+)/`).FindAllStringSubmatch(string(demo), -1) {
		made[m[2]] = strings.Join(m[1:], " ")
	}
	if len(topo.Ports) != len(made) {
		t.Errorf("%d ports, but the demo makes %d workloads", len(topo.Ports), len(made))
	}
	for _, p := range topo.Ports {
		if len(p.IPs) != 1 || p.Interface != "lm-"+p.Name || p.PortSecurity != true {
			t.Errorf("port %s: want one IP, interface lm-%s, port security", p.Name, p.Name)
			continue
		}
		if got := strings.Join([]string{p.Host, p.Name, p.MAC.String(), p.IPs[0].String()}, " "); got != made[p.Name] {
			t.Errorf("port %s is %q, the demo's workload is %q", p.Name, got, made[p.Name])
		}
	}
	if _, err := flows.Compile(topo); err != nil {
		t.Errorf("this version cannot apply the demo:\n%v", err)
	}
}
