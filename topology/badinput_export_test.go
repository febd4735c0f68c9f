package topology

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var corpusOut = flag.String("corpus-out", "", "write the bad-input corpus to this folder, for the tests of other packages (cmd/loomctl's validate parity test)")

// CorpusCase is one case of the exported bad-input corpus: its folder
// (under the -corpus-out folder) and the files in it.
type CorpusCase struct {
	Name  string   `json:"name"`
	Dir   string   `json:"dir"`
	Files []string `json:"files"`
}

// The bad-input corpus as files on disk: one folder per case and an
// index.json, for tests elsewhere (which cannot import this package's
// tests) to run every case through their own path. Without -corpus-out
// it writes to a temporary folder and checks that each case loaded from
// disk gives the errors it gives from memory.
func TestBadInputCorpusExport(t *testing.T) {
	dir := *corpusOut
	if dir == "" {
		dir = t.TempDir()
	}
	var index []CorpusCase
	for i, c := range badInputs() {
		files := c.files
		if files == nil {
			files = map[string][]byte{"t.yaml": []byte(c.src)}
		}
		cc := CorpusCase{Name: c.name, Dir: fmt.Sprintf("%03d", i)}
		for name, b := range files {
			p := filepath.Join(dir, cc.Dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			cc.Files = append(cc.Files, name)
		}
		index = append(index, cc)
		if *corpusOut == "" && len(files) == 1 {
			// Loaded from disk by path, the errors are those from memory
			// with the path for the file name.
			_, mem := LoadBytes(map[string][]byte{"t.yaml": files["t.yaml"]})
			_, disk := Load(filepath.Join(dir, cc.Dir, "t.yaml"))
			if got := strings.ReplaceAll(fmt.Sprint(disk), filepath.Join(dir, cc.Dir)+"/", ""); got != fmt.Sprint(mem) {
				t.Errorf("%s: from disk:\n%v\nfrom memory:\n%v", c.name, disk, mem)
			}
		}
	}
	b, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
