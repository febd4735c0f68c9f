package topology

import (
	"strings"
	"testing"
)

const good = `apiVersion: loom/v1
hosts:
  - name: h1
    ovsdb: tcp:198.18.0.11:6640
    tunnelIP: 198.19.0.11
    datapathType: netdev
  - name: h2
    ovsdb: unix:/run/h2/db.sock
    openflow: tcp:198.18.0.12:6653
    tunnelIP: 198.19.0.12
    bridge: br-loom
switches:
  - name: blue
    tunnelKey: 100
ports:
  - name: web1
    switch: blue
    host: h1
    mac: "02:00:00:00:01:01"
    ip: 192.0.2.11
    interface: lm-web1
  - name: db1
    switch: blue
    host: h2
    mac: 02:00:00:00:01:02
    ip: 192.0.2.12
    interface: lm-db1
`

func TestLoadGood(t *testing.T) {
	topo, err := LoadBytes(map[string][]byte{"t.yaml": []byte(good)})
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := topo.Host("h1")
	if h1.OpenFlow != "tcp:198.18.0.11:6653" || h1.Bridge != "br-int" || h1.DatapathType != "netdev" {
		t.Errorf("h1 defaults: %+v", h1)
	}
	h2, _ := topo.Host("h2")
	if h2.OpenFlow != "tcp:198.18.0.12:6653" || h2.Bridge != "br-loom" || h2.DatapathType != "system" {
		t.Errorf("h2: %+v", h2)
	}
	if got := topo.Ports[0].Name + "," + topo.Ports[1].Name; got != "db1,web1" {
		t.Errorf("ports not sorted: %s", got)
	}
	if topo.Ports[1].Pos.Line != 16 || topo.Ports[1].Pos.Col != 5 {
		t.Errorf("web1 position %v, want t.yaml:16:5", topo.Ports[1].Pos)
	}
	for _, p := range topo.Ports {
		if p.Key < 1 || p.Key > MaxPortKey {
			t.Errorf("port %s key %d out of range", p.Name, p.Key)
		}
	}
}

// The same objects split over files in another order give the same model.
func TestLoadDeterministic(t *testing.T) {
	a, err := LoadBytes(map[string][]byte{"t.yaml": []byte(good)})
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(good, "switches:")
	split := map[string][]byte{
		"b.yaml": []byte(good[:i]),
		"a.yaml": []byte("apiVersion: loom/v1\n" + good[i:]),
	}
	b, err := LoadBytes(split)
	if err != nil {
		t.Fatal(err)
	}
	for k := range a.Ports {
		pa, pb := a.Ports[k], b.Ports[k]
		if pa.Name != pb.Name || pa.Key != pb.Key {
			t.Errorf("port %d: %s/%d vs %s/%d", k, pa.Name, pa.Key, pb.Name, pb.Key)
		}
	}
	if a.Switches[0].ID != b.Switches[0].ID || a.Hosts[1].Key != b.Hosts[1].Key {
		t.Error("ids depend on file layout")
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string // every line of the error, in order
	}{
		{"unknown field with hint", strings.Replace(good, "tunnelIP: 198.19.0.11", "tunelIP: 198.19.0.11", 1), []string{
			`t.yaml:3:5: host "h1": missing field "tunnelIP"`,
			`t.yaml:5:5: unknown host field "tunelIP" (did you mean "tunnelIP"?)`,
		}},
		{"tab", strings.Replace(good, "    tunnelKey: 100", "\ttunnelKey: 100", 1), []string{
			`t.yaml:14:1: tab character: YAML forbids tabs (indent with spaces)`,
		}},
		{"duplicate key", strings.Replace(good, "    tunnelKey: 100", "    tunnelKey: 100\n    tunnelKey: 101", 1), []string{
			`t.yaml:15:5: switch key "tunnelKey" repeated (first at line 14)`,
		}},
		{"wrong type, reported once, with the other errors", strings.NewReplacer(
			"tunnelKey: 100", "tunnelKey: blue", "host: h2", "host: h3").Replace(good), []string{
			`t.yaml:14:16: expected an integer, not "blue"`,
			`t.yaml:24:11: port "db1": no host named "h3" (did you mean "h1"?)`,
		}},
		{"unknown refs and bad values", strings.NewReplacer(
			"switch: blue\n    host: h1", "switch: bleu\n    host: h9",
			"mac: 02:00:00:00:01:02", "mac: 03:00:00:00:01:02",
			"ip: 192.0.2.12", "ip: 192.0.2.300",
		).Replace(good), []string{
			`t.yaml:17:13: port "web1": no switch named "bleu" (did you mean "blue"?)`,
			`t.yaml:18:11: port "web1": no host named "h9" (did you mean "h1"?)`,
			`t.yaml:25:10: port "db1": MAC 03:00:00:00:01:02 is a multicast address (the first byte must be even)`,
			`t.yaml:26:9: port "db1": invalid IP "192.0.2.300" (an IPv4 address such as 192.0.2.10)`,
		}},
		{"duplicates", strings.NewReplacer(
			"198.19.0.12", "198.19.0.11",
			"02:00:00:00:01:02", "02:00:00:00:01:01",
			"name: db1", "name: web1",
		).Replace(good), []string{
			`t.yaml:10:15: tunnel IP "198.19.0.11" defined twice (first at t.yaml:5:15)`,
			`t.yaml:22:5: port "web1" defined twice (first at t.yaml:16:5)`,
			`t.yaml:25:10: MAC address "blue 02:00:00:00:01:01" defined twice (first at t.yaml:19:10)`,
		}},
		{"key range", strings.Replace(good, "tunnelKey: 100", "tunnelKey: 4294967296", 1), []string{
			`t.yaml:14:16: switch "blue": tunnel key 4294967296 out of range (a GRE key is 1..4294967295)`,
		}},
		{"version", strings.Replace(good, "loom/v1", "loom/v9", 1), []string{
			`t.yaml:1:13: unsupported apiVersion "loom/v9" (this Loom reads apiVersion: loom/v1)`,
		}},
		{"syntax", "apiVersion: loom/v1\nhosts: [\n", []string{
			`t.yaml:2: did not find expected node content`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadBytes(map[string][]byte{"t.yaml": []byte(c.src)})
			if err == nil {
				t.Fatal("no error")
			}
			if got, want := err.Error(), strings.Join(c.want, "\n"); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("apiVersion: loom/v1\nports: [{name: a}]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		topo, err := LoadBytes(map[string][]byte{"f.yaml": src})
		if (topo == nil) == (err == nil) {
			t.Fatalf("topology %v with error %v", topo, err)
		}
	})
}
