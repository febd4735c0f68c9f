package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/flows"
)

// run runs loomctl in process and returns stdout, stderr and the exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.Execute()
	code := 0
	var ee exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case err != nil:
		errb.WriteString(err.Error())
		code = 1
	}
	return out.String(), errb.String(), code
}

func TestValidateGood(t *testing.T) {
	out, errs, code := run(t, "validate", "-f", "../../deploy/examples/two-hosts.yaml")
	if code != 0 || out != "valid: 2 hosts, 1 switches, 2 ports, 0 ACLs\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
}

func TestValidateReportsEveryError(t *testing.T) {
	src, err := os.ReadFile("../../deploy/examples/two-hosts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.NewReplacer("tunnelKey: 100", "tunnelkey: 100", "host: h2", "host: h3").Replace(string(src))
	f := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(f, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := run(t, "validate", "-f", f)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := f + `:17:5: switch "blue": needs tunnelKey, or vlan and physnet (an overlay switch has a tunnelKey; a VLAN-backed one has vlan and physnet)` + "\n" +
		f + `:18:5: unknown switch field "tunnelkey" (did you mean "tunnelKey"?)` + "\n" +
		f + `:29:11: port "db1": no host named "h3" (did you mean "h1"?)` + "\n" +
		"3 errors: the topology is invalid, nothing was applied\n"
	if errs != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errs, want)
	}
	// apply refuses before touching any host (the hosts of this file do
	// not exist here: reaching for them would fail differently).
	_, errs, code = run(t, "apply", "-f", f)
	if code != 1 || !strings.Contains(errs, "nothing was applied") {
		t.Errorf("apply of an invalid topology: exit %d, stderr %q", code, errs)
	}
}

func TestCompileOneHost(t *testing.T) {
	out, errs, code := run(t, "compile", "-f", "../../deploy/examples/two-hosts.yaml", "--host", "h2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.HasPrefix(out, "# host h2: bridge br-int") || strings.Contains(out, "# host h1") {
		t.Errorf("compile --host h2 printed:\n%s", out)
	}
	if !strings.Contains(out, "# port db1 (") {
		t.Errorf("flows are not explained by their objects:\n%s", out)
	}
	if _, _, code := run(t, "compile", "-f", "../../deploy/examples/two-hosts.yaml", "--host", "nope"); code != 1 {
		t.Errorf("compile of an unknown host: exit %d", code)
	}
}

func TestValidateJSON(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(f, []byte("apiVersion: loom/v1\nhosts:\n  - name: h1\n    ovsdb: tcp:192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "validate", "-o", "json", "-f", f)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	var res validateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if res.Valid || len(res.Errors) != 1 || res.Errors[0].Line != 4 || res.Errors[0].Col != 12 ||
		res.Errors[0].Message != `host "h1": invalid ovsdb address "tcp:192.0.2.1"` || res.Errors[0].Hint == "" {
		t.Errorf("json: %+v", res)
	}
	if !strings.Contains(out, `"col": 12`) {
		t.Errorf("validate -o json names the column otherwise than loomd's API (col):\n%s", out)
	}
	out, _, code = run(t, "validate", "-o", "json", "-f", "../../deploy/examples/two-hosts.yaml")
	if code != 0 || !strings.Contains(out, `"valid": true`) || !strings.Contains(out, `"ports": 2`) {
		t.Errorf("exit %d: %s", code, out)
	}
}

func TestCompileJSON(t *testing.T) {
	out, errs, code := run(t, "compile", "-o", "json", "-f", "../../deploy/examples/two-hosts.yaml", "--host", "h1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var hosts []jsonHost
	if err := json.Unmarshal([]byte(out), &hosts); err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || hosts[0].Host != "h1" || len(hosts[0].Flows) < 10 {
		t.Fatalf("got %+v", hosts)
	}
	web := 0
	for _, f := range hosts[0].Flows {
		if f.Origin.Name == "web1" && f.Origin.Line > 0 && f.TableName != "" {
			web++
		}
	}
	if web == 0 {
		t.Error("no flow of port web1 with its position and table name")
	}
	// Positions are spelled as everywhere else in Loom's JSON (api.Problem).
	if !strings.Contains(out, `"col":`) || strings.Contains(out, `"column"`) {
		t.Error(`compile -o json does not spell positions as file, line, col`)
	}
}

func TestTraceAcrossHosts(t *testing.T) {
	full := "../../flows/testdata/full/topology.yaml"
	out, errs, code := run(t, "trace", "-f", full, "--from", "b1", "--to", "b3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"== host h1, from port b1", "into the vxlan tunnel vxl-h3 to host h3, key 20", "== host h3, from the tunnel of host h1", "=> out of port b3 (lm-b3)"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
	out, _, code = run(t, "trace", "-f", full, "--from", "client", "--to", "web", "--proto", "tcp", "--dport", "5001")
	if code != 0 || !strings.Contains(out, "acl web-in") || !strings.Contains(out, "rule 2 (no-5001): drop") || !strings.HasSuffix(strings.TrimSpace(out), "=> dropped") {
		t.Errorf("TCP 5001 to web is not shown dropped by its ACL:\n%s", out)
	}
	// A VLAN-backed switch: the copy leaves h1's uplink tagged and is
	// followed to h2 over the physnet.
	out, _, code = run(t, "trace", "-f", full, "--from", "r1", "--to", "r2")
	for _, want := range []string{"=> out of the uplink lm-pn-phys1 of physnet phys1, VLAN 200", "== host h2, from the uplink of physnet phys1", "=> out of port r2 (lm-r2)"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("trace r1 -> r2 lacks %q:\n%s", want, out)
		}
	}
	if _, _, code := run(t, "trace", "-f", full, "--from", "nope", "--to", "web"); code != 1 {
		t.Errorf("trace from an unknown port: exit %d", code)
	}
}

func TestExplain(t *testing.T) {
	out, _, code := run(t, "explain", "-f", "../../deploy/examples/two-hosts.yaml", "0x99", "0x4c4d000100000000")
	if code != 0 || !strings.Contains(out, "0x99  not Loom's") || !strings.Contains(out, "table miss") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if _, _, code := run(t, "explain", "-f", "../../deploy/examples/two-hosts.yaml", "zz"); code != 1 {
		t.Errorf("a bad cookie: exit %d", code)
	}
}

func TestGet(t *testing.T) {
	full := "../../flows/testdata/full/topology.yaml"
	out, errs, code := run(t, "get", "ports", "-f", full)
	if code != 0 || !strings.HasPrefix(out, "NAME") || strings.Count(out, "\n") != 9 || !strings.Contains(out, "192.0.2.65,2001:db8:20::1") {
		t.Errorf("get ports: exit %d %s\n%s", code, errs, out)
	}
	// -o json|yaml: the object as the YAML writes it, typed, and its source.
	out, _, code = run(t, "get", "switches", "red", "-f", full, "-o", "json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil || code != 0 || len(rows) != 1 ||
		rows[0]["vlan"] != float64(200) || rows[0]["physnet"] != "phys1" || !strings.HasPrefix(fmt.Sprint(rows[0]["source"]), full+":") {
		t.Errorf("get switches red -o json: %v %v\n%s", err, rows, out)
	}
	if mtu, ok := rows[0]["mtu"].(float64); !ok || mtu < 1000 {
		t.Errorf("get switches red -o json: mtu %v is not a number", rows[0]["mtu"])
	}
	out, _, code = run(t, "get", "ports", "-f", full, "-o", "json")
	var ports []struct {
		Name string   `json:"name"`
		IPs  []string `json:"ips"`
		ACLs struct {
			FromPort []string `json:"fromPort"`
			ToPort   []string `json:"toPort"`
		} `json:"acls"`
	}
	if err := json.Unmarshal([]byte(out), &ports); err != nil || code != 0 || len(ports) != 8 {
		t.Fatalf("get ports -o json: %v\n%s", err, out)
	}
	withACLs, twoIPs := 0, 0
	for _, p := range ports {
		if len(p.ACLs.FromPort)+len(p.ACLs.ToPort) > 0 {
			withACLs++
		}
		if len(p.IPs) == 2 {
			twoIPs++
		}
	}
	if withACLs == 0 || twoIPs == 0 {
		t.Errorf("get ports -o json: no port with its ACLs (%d) or two addresses as a list (%d):\n%s", withACLs, twoIPs, out)
	}
	if out, _, code := run(t, "get", "hosts", "h1", "-f", full, "-o", "yaml"); code != 0 || !strings.Contains(out, "physnets:\n    phys1: lm-pn-phys1\n") {
		t.Errorf("get hosts h1 -o yaml: %d\n%s", code, out)
	}
	out, _, code = run(t, "get", "endpoints", "tor1", "-f", "../../deploy/examples/external-vtep.yaml", "-o", "json")
	var eps []struct {
		Key    int `json:"key"`
		Behind []struct {
			MAC string   `json:"mac"`
			IPs []string `json:"ips"`
		} `json:"behind"`
	}
	if err := json.Unmarshal([]byte(out), &eps); err != nil || code != 0 || len(eps) != 1 || eps[0].Key != 5001 || len(eps[0].Behind) < 2 || len(eps[0].Behind[0].IPs) == 0 {
		t.Errorf("get endpoints tor1 -o json: %v\n%s", err, out)
	}
	if out, _, code := run(t, "get", "l2gateways", "-f", "../../deploy/examples/l2-gateway.yaml"); code != 0 || !strings.Contains(out, "blue-vlan300  blue    gw1   physnet1  300") {
		t.Errorf("get l2gateways: %d\n%s", code, out)
	}
	if _, errs, code := run(t, "get", "ports", "nope", "-f", full); code != 1 || !strings.Contains(errs, `no port named "nope"`) {
		t.Errorf("get of an unknown port: %d %s", code, errs)
	}
	if _, _, code := run(t, "get", "routers", "-f", full); code != 1 {
		t.Errorf("get routers: exit %d", code)
	}
}

// Every command has a short line, examples and, when it prints data, -o
// with json and yaml.
func TestEveryCommandDocumented(t *testing.T) {
	noData := map[string]bool{"loomctl": true, "loomctl completion": true, "loomctl help": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := c.CommandPath()
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if strings.HasPrefix(path, "loomctl completion ") || path == "loomctl help" {
			return
		}
		if c.Short == "" {
			t.Errorf("%s: no short description", path)
		}
		if c.HasSubCommands() && !c.Runnable() {
			return
		}
		if c.Example == "" && !noData[path] {
			t.Errorf("%s: no examples", path)
		}
		if noData[path] {
			return
		}
		f := c.Flags().Lookup("output")
		if f == nil || !strings.Contains(f.Usage, "json") || !strings.Contains(f.Usage, "yaml") {
			t.Errorf("%s: no -o with json and yaml", path)
		}
	}
	root := newRootCmd()
	root.InitDefaultCompletionCmd()
	walk(root)
}

// validate runs the compiler's checks as loomd does: a topology the
// compiler refuses is not called valid, and its errors have positions.
func TestValidateRunsTheCompiler(t *testing.T) {
	src, err := os.ReadFile("../../deploy/examples/two-hosts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// What validation accepts and only the compiler refuses: a host with
	// more flows than the compiler's budget (lowered here).
	defer flows.SetFlowBudgetForTest(5)()
	f := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(f, src, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := run(t, "validate", "-f", f)
	want := f + `:17:5: switch "blue": more than 5 flows (the last one for port db1 (` + f + `:27:5): egress through the tunnel to the port's host, with the switch's key): split the host's ports or ACLs` + "\n" +
		"1 error: the topology is invalid, nothing was applied\n"
	if code != 1 || errs != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, errs, want)
	}
	out, _, code := run(t, "validate", "-o", "json", "-f", f)
	var res validateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if code != 1 || res.Valid || len(res.Errors) != 1 || res.Errors[0].Line != 17 || res.Errors[0].Col != 5 {
		t.Errorf("exit %d, json: %+v", code, res)
	}
}
