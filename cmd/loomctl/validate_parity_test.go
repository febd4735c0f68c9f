package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/controller/daemon"
)

// corpusCase is a case of topology's exported bad-input corpus (see
// topology/badinput_export_test.go).
type corpusCase struct {
	Name  string   `json:"name"`
	Dir   string   `json:"dir"`
	Files []string `json:"files"`
}

// A local `loomctl validate` and loomd's validate answer the same for
// every example and every case of topology's bad-input corpus: valid or
// not, the same errors and warnings at the same positions, with the same
// hints.
func TestValidateLocalEqualsLoomd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs topology's corpus export")
	}
	corpus := t.TempDir()
	if out, err := exec.Command("go", "test", "-count=1", "-run", "^TestBadInputCorpusExport$", "../../topology", "-args", "-corpus-out", corpus).CombinedOutput(); err != nil {
		t.Fatalf("export the bad-input corpus: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(corpus, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 60 {
		t.Fatalf("only %d cases in the corpus", len(cases))
	}

	d, err := daemon.New(daemon.Config{Log: zap.NewNop(), StateDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	c := &api.Client{Server: srv.URL}

	// Each input is checked from its folder, by the names of its files,
	// so that both answers name the files alike: loomd gets the files as
	// any client sends them, keyed by those names.
	type input struct {
		name, dir, arg string
		files          []string
	}
	var inputs []input
	examples, err := filepath.Glob("../../deploy/examples/*.yaml")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, e := range examples {
		abs, _ := filepath.Abs(e)
		inputs = append(inputs, input{"example " + filepath.Base(e), filepath.Dir(abs), filepath.Base(e), []string{filepath.Base(e)}})
	}
	for _, cc := range cases {
		arg := "t.yaml"
		if len(cc.Files) != 1 {
			arg = "." // several files: the folder
		}
		inputs = append(inputs, input{cc.Name, filepath.Join(corpus, cc.Dir), arg, cc.Files})
	}
	// A port bound by ifaceID (which the compiler refused before it
	// could bind one): valid on both sides.
	extra := t.TempDir()
	if err := os.WriteFile(filepath.Join(extra, "t.yaml"), []byte(ifaceIDTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, input{"ifaceID port", extra, "t.yaml", []string{"t.yaml"}})
	valid, invalid := 0, 0
	for _, in := range inputs {
		t.Chdir(in.dir)
		local := validateFiles([]string{in.arg})
		files := map[string]string{}
		for _, f := range in.files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			files[f] = string(b)
		}
		if !allUTF8(files) {
			// The wire (JSON strings) cannot carry such bytes: loomctl
			// refuses to send them, with the local answer.
			_, err := readFiles([]string{in.arg})
			if err == nil || !sameProblems(local.Errors, api.Problems(err)) {
				t.Errorf("%s: not UTF-8: loomctl sends it, or refuses it otherwise than validate (%v):\n%s", in.name, err, problemText(local.Errors, nil))
			}
			invalid++
			continue
		}
		remote, err := c.Validate(context.Background(), files)
		if err != nil {
			t.Fatalf("%s: loomd: %v", in.name, err)
		}
		if local.Valid != remote.Valid || !sameProblems(local.Errors, remote.Errors) || !sameProblems(local.Warnings, remote.Warnings) {
			t.Errorf("%s: local and loomd differ:\nlocal: valid %v\n%sloomd: valid %v\n%s", in.name,
				local.Valid, problemText(local.Errors, local.Warnings), remote.Valid, problemText(remote.Errors, remote.Warnings))
		}
		if remote.Valid {
			valid++
		} else {
			invalid++
		}
	}
	// The corpus is of bad input, the examples are good: both answers must
	// have been seen.
	if valid < len(examples) || invalid < len(cases)-5 {
		t.Errorf("%d valid and %d invalid answers for %d examples and %d bad inputs", valid, invalid, len(examples), len(cases))
	}
}

func sameProblems(a, b []api.Problem) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func problemText(errs, warns []api.Problem) string {
	s := ""
	for _, p := range errs {
		s += "  error: " + p.String() + "\n"
	}
	for _, p := range warns {
		s += "  warning: " + p.String() + "\n"
	}
	return s
}

func allUTF8(files map[string]string) bool {
	for _, s := range files {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

const ifaceIDTopology = `apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "tcp:127.0.0.1:6640", tunnelIP: 10.0.0.1}
switches:
  - {name: s, tunnelKey: 1}
ports:
  - {name: a, switch: s, host: h1, mac: auto, ifaceID: x}
`
