// The module's root holds no package of its own (tools.go is built only
// with -tags tools), so this test is an external test of that one.
package tools_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/loom-sdn/loom/"

// mayImport is, for each of Loom's packages (path under the module), the
// packages of Loom it may import; each package's doc.go says the same in
// words, and docs/design.md draws it. Imports point down: topology at the
// bottom, then the compiler (flows), the switch clients (ofctl, ovsdb),
// the wire types (controller/api), the runtime (controller, then
// controller/daemon), and the commands on top. A package not listed fails
// the test: give it a rule here and in its doc.go.
var mayImport = map[string][]string{
	"version":           {},
	"topology":          {},
	"topology/topotest": {},
	"topology/edit":     {"topology"},
	"flows":             {"topology"},
	"flows/sim":         {"flows", "topology"},
	"controller/ipam":   {"topology"},
	"ofctl":             {"flows", "topology"},
	"ovsdb/vswitchd":    {},
	"ovsdb":             {"ovsdb/vswitchd"},
	"ovsdb/ovsdbtest":   {},
	// The wire package: types, their JSON and the client; nothing of the
	// runtime.
	"controller/api": {"topology", "flows", "version"},
	// Host plumbing for container runtimes: talks to loomd through the API.
	"plumb":      {"controller/api", "topology", "version"},
	"controller": {"topology", "flows", "ofctl", "ovsdb", "ovsdb/vswitchd", "controller/api", "controller/ipam", "version"},
	"controller/daemon": {"controller", "controller/api", "controller/ipam",
		"topology", "topology/edit", "flows", "version"},
	// Runtime plugins: loomd's clients, never its engine.
	"cmd/loom-cni":    {"controller/api", "plumb", "topology", "version"},
	"cmd/loom-docker": {"controller/api", "plumb", "topology", "version"},
	// loomctl links the engine for --direct (not with -tags nodirect:
	// cmd/loomctl/build_test.go).
	"cmd/loomctl": {"controller", "controller/api", "controller/ipam", "flows", "flows/sim", "plumb",
		"topology", "topology/edit", "version"},
	"cmd/loomd":      {"controller", "controller/daemon", "controller/api", "version"},
	"e2e/benchtable": {},
	"e2e/lmtcp":      {},
	"e2e":            nil, // tests only: may import anything
}

// runtime are the packages of loomd's engine: nothing below the
// controller, and no test of such a package, imports them.
var runtime = []string{"controller", "controller/daemon"}

// below are the packages below the controller.
var below = []string{"version", "topology", "topology/topotest", "topology/edit", "flows", "flows/sim",
	"controller/ipam", "ofctl", "ovsdb", "ovsdb/vswitchd", "ovsdb/ovsdbtest", "controller/api", "plumb"}

type pkg struct {
	path, dir                     string
	imports, testImports, xImport []string
}

// listPackages runs go list over the module: each package with its
// imports (of the build, of its tests, of its external tests).
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-f",
		"{{.ImportPath}}\t{{.Dir}}\t{{join .Imports \" \"}}\t{{join .TestImports \" \"}}\t{{join .XTestImports \" \"}}", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 5 {
			t.Fatalf("go list: unexpected line %q", sc.Text())
		}
		pkgs = append(pkgs, pkg{path: f[0], dir: f[1], imports: strings.Fields(f[2]),
			testImports: strings.Fields(f[3]), xImport: strings.Fields(f[4])})
	}
	return pkgs
}

// ours is p's path under the module, or "" for a package not of Loom.
func ours(p string) string {
	if rest, ok := strings.CutPrefix(p, module); ok {
		return rest
	}
	return ""
}

func TestImportDirections(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	pkgs := listPackages(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		name := ours(p.path)
		if name == "" { // the module's root: this test
			continue
		}
		seen[name] = true
		allowed, ok := mayImport[name]
		if !ok {
			t.Errorf("%s has no import rule: add it to mayImport (imports_test.go) and say in its doc.go what it owns and may import", name)
			continue
		}
		if _, err := os.Stat(filepath.Join(p.dir, "doc.go")); err != nil {
			t.Errorf("%s has no doc.go saying what it owns and what it may import", name)
		}
		if allowed != nil {
			for _, imp := range p.imports {
				if q := ours(imp); q != "" && !slices.Contains(allowed, q) {
					t.Errorf("%s imports %s: it may import only %v of Loom's packages", name, q, allowed)
				}
			}
		}
		// Tests of a package below the controller do not reach up to it
		// either.
		if slices.Contains(below, name) {
			for _, imp := range append(p.testImports, p.xImport...) {
				if q := ours(imp); slices.Contains(runtime, q) {
					t.Errorf("a test of %s imports %s (the runtime is above it)", name, q)
				}
			}
		}
	}
	// Positive control: the listing found the packages the rules name.
	for name := range mayImport {
		if !seen[name] {
			t.Errorf("go list did not list %s: rename its rule, or remove it", name)
		}
	}
}

// The wire package and loomd's clients other than loomctl (which has
// cmd/loomctl/build_test.go) link nothing of the runtime, whatever the
// path: no controller, no OVSDB or OpenFlow client, no logger or metrics
// (controller/api only).
func TestClientsLinkNoRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	forbidden := []string{module + "controller", module + "ovsdb", module + "ofctl", "github.com/ovn-org/libovsdb"}
	for _, pkg := range []string{"controller/api", "plumb", "cmd/loom-cni", "cmd/loom-docker"} {
		out, err := exec.Command("go", "list", "-deps", "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps ./%s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		// Positive control: the listing holds the package's own imports.
		if !slices.Contains(deps, module+"topology") {
			t.Fatalf("go list -deps ./%s does not list topology: %v", pkg, deps)
		}
		bad := forbidden
		if pkg == "controller/api" {
			bad = append(bad, module+"plumb", "go.uber.org/zap", "github.com/prometheus/client_golang")
		}
		for _, d := range deps {
			for _, f := range bad {
				if (d == f || strings.HasPrefix(d, f+"/")) && d != module+"controller/api" {
					t.Errorf("%s links %s", pkg, d)
				}
			}
		}
	}
}
