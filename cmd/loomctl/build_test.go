package main

import (
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// goList runs go list on pkg with args and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.Fields(string(out))
}

// The engine's packages: what --direct needs and a loomctl that only
// talks to loomd must not link.
var enginePkgs = []string{
	"github.com/loom-sdn/loom/controller",
	"github.com/loom-sdn/loom/ovsdb",
	"github.com/loom-sdn/loom/ofctl",
	"github.com/ovn-org/libovsdb/client",
}

func has(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// engine tells whether p is one of the engine's packages: those above,
// the controller's daemon, or a package under ovsdb, ofctl or libovsdb.
func engine(p string) bool {
	if has(enginePkgs, p) || p == "github.com/loom-sdn/loom/controller/daemon" {
		return true
	}
	for _, root := range []string{"github.com/loom-sdn/loom/ovsdb/", "github.com/loom-sdn/loom/ofctl/", "github.com/ovn-org/libovsdb/"} {
		if strings.HasPrefix(p, root) {
			return true
		}
	}
	return false
}

// A loomctl built with -tags nodirect links none of the engine's packages:
// not the controller, its daemon, ovsdb, ofctl nor libovsdb. It talks to
// loomd through controller/api, the wire package, which holds only types
// and their JSON.
func TestNoDirectBuildLinksNoEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const self = "github.com/loom-sdn/loom/cmd/loomctl"
	full := goList(t, "-deps", self)
	for _, p := range enginePkgs {
		if !has(full, p) { // positive control: the default build has the engine
			t.Fatalf("the default build of loomctl does not link %s: is --direct still built in?", p)
		}
	}
	// The import graph of the nodirect build, walked from loomctl, to name
	// the path of any engine package it links.
	graph := map[string][]string{}
	lines, err := exec.Command("go", "list", "-tags", "nodirect", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, self).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		f := strings.Fields(l)
		graph[f[0]] = f[1:]
	}
	if len(graph) < 10 || graph["github.com/loom-sdn/loom/controller/api"] == nil {
		t.Fatalf("go list -tags nodirect -deps %s gave %d packages, without controller/api", self, len(graph))
	}
	via := map[string]string{self: ""} // package: the one that imported it
	queue := []string{self}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range graph[p] {
			if _, seen := via[q]; !seen {
				via[q] = p
				queue = append(queue, q)
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(via)) {
		if engine(p) {
			path := p
			for q := via[p]; q != ""; q = via[q] {
				path = q + " -> " + path
			}
			t.Errorf("loomctl -tags nodirect links %s: %s", p, path)
		}
	}
	// And the build works: --direct says what is missing.
	bin := t.TempDir() + "/loomctl"
	if out, err := exec.Command("go", "build", "-tags", "nodirect", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nodirect: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "plan", "--direct", "-f", "../../deploy/examples/two-hosts.yaml").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "built with -tags nodirect") {
		t.Errorf("loomctl -tags nodirect plan --direct: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "validate", "-f", "../../deploy/examples/two-hosts.yaml").CombinedOutput(); err != nil {
		t.Errorf("loomctl -tags nodirect validate: %v\n%s", err, out)
	}
}
