package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/controller/api"
)

// unreachable is a topology whose one host refuses connections (port 1
// of loopback): both front doors fail on it at once, the same way.
const unreachable = `apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "tcp:127.0.0.1:1", tunnelIP: 192.0.2.201}
switches:
  - {name: blue, tunnelKey: 100}
ports:
  - {name: web1, switch: blue, host: h1, mac: "02:00:00:00:01:01", interface: lm-web1}
`

// One front door: plan through loomd and plan --direct print the same
// plan, by the same printer, for the same hosts; apply --direct -o json
// has the shape of apply through loomd.
func TestPlanSameThroughLoomdAndDirect(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "net.yaml")
	if err := os.WriteFile(file, []byte(unreachable), 0o644); err != nil {
		t.Fatal(err)
	}
	d, url := loomdWith(t)
	if _, err := d.Put(api.TopologyUpdate{Files: map[string]string{"net.yaml": unreachable}}); err != nil {
		t.Fatal(err)
	}
	remote, errs, code := run(t, "--server", url, "--config", "", "plan", "-f", file)
	if code != 1 {
		t.Fatalf("plan through loomd: exit %d %s\n%s", code, errs, remote)
	}
	// Through loomd, the object changes come first (none here).
	remote = strings.TrimPrefix(remote, "no differences: loomd holds this topology\n")
	direct, errs, code := run(t, "plan", "--direct", "-f", file)
	if code != 1 {
		t.Fatalf("plan --direct: exit %d %s\n%s", code, errs, direct)
	}
	if remote != direct || !strings.HasPrefix(direct, "✗ h1: ovsdb tcp:127.0.0.1:1: dial") {
		t.Errorf("plan through loomd:\n%s\nplan --direct:\n%s", remote, direct)
	}

	out, errs, code := run(t, "apply", "--direct", "-f", file, "-o", "json")
	var res struct {
		Applied *json.RawMessage `json:"applied"`
		Plan    api.Plan         `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res.Applied != nil ||
		len(res.Plan.Hosts) != 1 || !strings.HasPrefix(res.Plan.Hosts[0].Error, "ovsdb tcp:127.0.0.1:1: dial") {
		t.Errorf("apply --direct -o json: exit %d %v %s\n%s", code, err, errs, out)
	}
	out, _, code = run(t, "apply", "--direct", "-f", file)
	if code != 1 || !strings.HasSuffix(out, "Applied: 0 hosts changed (0 flows added, 0 modified, 0 deleted, 0 OVSDB changes), 0 in sync, 1 failed\n") {
		t.Errorf("apply --direct: exit %d\n%s", code, out)
	}
}
