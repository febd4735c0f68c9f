package topology

import (
	"flag"
	"fmt"
	"strings"
	"testing"
)

// base is a small valid topology; the malformed ones below change its
// lines, so line numbers matter.
const base = `apiVersion: loom/v1
hosts:
  - name: h1
    ovsdb: tcp:198.18.0.11:6640
    tunnelIP: 198.19.0.11
    physnets:
      physnet1: eth1
  - name: h2
    ovsdb: tcp:198.18.0.12:6640
    tunnelIP: 198.19.0.12
switches:
  - name: blue
    tunnelKey: 100
    subnets:
      - 192.0.2.0/24
  - name: red
    vlan: 200
    physnet: physnet1
ports:
  - name: web1
    switch: blue
    host: h1
    mac: "02:00:00:00:01:01"
    ips:
      - 192.0.2.11
    interface: lm-web1
    acls:
      fromPort:
        - web
  - name: db1
    switch: blue
    host: h2
    mac: "02:00:00:00:01:02"
    ips: [192.0.2.12]
    interface: lm-db1
acls:
  - name: web
    rules:
      - action: allow
        proto: tcp
        dstPorts: 80
`

// at replaces lines of base (1-based) with text, which may hold several
// lines: later lines move down.
func at(repl map[int]string) string {
	ls := strings.Split(base, "\n")
	for n, w := range repl {
		ls[n-1] = w
	}
	return strings.Join(ls, "\n")
}

func at1(n int, with string) string { return at(map[int]string{n: with}) }

var dumpBad = flag.Bool("dump", false, "print what each malformed topology gives")

// The bad-input corpus: each malformed topology with every error it must
// give, as file:line:col: message, positions exact.
func TestBadInput(t *testing.T) {
	if _, err := loadOne(t, base); err != nil {
		t.Fatalf("base is invalid: %v", err)
	}
	for _, c := range badInputs() {
		t.Run(c.name, func(t *testing.T) {
			files := c.files
			if files == nil {
				files = map[string][]byte{"t.yaml": []byte(c.src)}
			}
			_, err := LoadBytes(files)
			got := fmt.Sprint(err)
			if *dumpBad {
				fmt.Printf("%s\n%s\n\n", c.name, got)
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if want := strings.Join(c.want, "\n"); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if n := len(badInputs()); n < 60 {
		t.Errorf("only %d malformed topologies", n)
	}
}

type badInput struct {
	name  string
	src   string
	files map[string][]byte // instead of src, several files
	want  []string
}
