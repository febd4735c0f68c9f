package flows

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The compiler stays pure: flows and topology import nothing that does
// I/O or logs (STYLE: imports point one way). topology may read the files
// it is given (Load), nothing else.
func TestPureImports(t *testing.T) {
	forbidden := map[string][]string{
		".":           {"os", "os/exec", "net/http", "io/fs", "log", "go.uber.org/zap", "github.com/ovn-org/libovsdb", "github.com/loom-sdn/loom/controller", "github.com/loom-sdn/loom/ovsdb", "github.com/loom-sdn/loom/ofctl"},
		"../topology": {"os/exec", "net/http", "log", "go.uber.org/zap", "github.com/ovn-org/libovsdb", "github.com/loom-sdn/loom/flows", "github.com/loom-sdn/loom/controller", "github.com/loom-sdn/loom/ovsdb"},
		"sim":         {"os", "os/exec", "net/http", "log", "go.uber.org/zap", "github.com/ovn-org/libovsdb"},
	}
	for dir, bad := range forbidden {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if len(files) == 0 {
			t.Fatalf("no Go files in %s", dir)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, b := range bad {
					if path == b || strings.HasPrefix(path, b+"/") {
						t.Errorf("%s imports %s", f, path)
					}
				}
			}
		}
	}
}
