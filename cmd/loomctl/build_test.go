package main

import (
	"os/exec"
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

// A loomctl built with -tags nodirect adds none of the engine's packages
// of its own: loomctl imports none of them, and every one it links comes
// through the API's package. Once that package no longer imports the
// controller (issue 15, item 1: a wire package of types only), the build
// links none of them at all, and this test then demands it.
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
	// The import graph of the nodirect build, walked from loomctl around
	// controller/api: whatever it reaches, loomctl brings in itself.
	graph := map[string][]string{}
	lines, err := exec.Command("go", "list", "-tags", "nodirect", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, self).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		f := strings.Fields(l)
		graph[f[0]] = f[1:]
	}
	const apiPkg = "github.com/loom-sdn/loom/controller/api"
	via := map[string]string{self: ""} // package: the one that imported it
	queue := []string{self}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range graph[p] {
			if _, seen := via[q]; !seen && q != apiPkg {
				via[q] = p
				queue = append(queue, q)
			}
		}
	}
	for _, p := range enginePkgs {
		if _, ok := via[p]; ok {
			path := p
			for q := via[p]; q != ""; q = via[q] {
				path = q + " -> " + path
			}
			t.Errorf("loomctl -tags nodirect links %s other than through controller/api: %s", p, path)
		}
	}
	deps := goList(t, "-tags", "nodirect", "-deps", self)
	api := goList(t, "-deps", apiPkg)
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
	if !has(api, "github.com/loom-sdn/loom/controller") {
		for _, p := range deps {
			if strings.HasPrefix(p, "github.com/ovn-org/libovsdb") {
				t.Errorf("loomctl -tags nodirect links %s", p)
			}
		}
	} else {
		t.Logf("controller/api still imports the controller: the nodirect build links libovsdb through it (issue 15 item 1)")
	}
}
