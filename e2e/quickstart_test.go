package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
)

// startAPILoomd runs loomd as docs/quickstart.md does: in the lab's
// controller namespace, no topology files (the topology is written through
// its API), state kept in stateDir. Its log is at debug level, so that
// every reconcile is logged with its flow mods, even one that changed
// nothing. It is stopped (SIGTERM) when the test ends, unless stopped
// before.
func startAPILoomd(t *testing.T, l *Lab, stateDir string) *loomd {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "loomd.yaml")
	if err := os.WriteFile(config, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &loomd{t: t, status: filepath.Join(dir, "status.json"), log: &syncBuffer{}}
	addr := filepath.Join(dir, "address")
	d.cmd = exec.Command("ip", "netns", "exec", l.Prefix+"ctl", binary(t, "loomd"),
		"--config", config, "--state-dir", stateDir, "--listen", "127.0.0.1:9477", "--address-file", addr,
		"--status-file", d.status, "--log-level", "debug")
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.stop()
		}
		if t.Failed() {
			t.Logf("loomd (pid %d) log:\n%s", d.cmd.Process.Pid, d.log.String())
		}
	})
	waitFor(t, "loomd listens", 10*time.Second, func() bool {
		_, err := os.Stat(addr)
		return err == nil
	})
	return d
}

// stop sends loomd SIGTERM, as `kill PID` does, and waits for it to exit.
func (d *loomd) stop() {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			d.t.Errorf("loomd exited on SIGTERM with %v", err)
		}
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-done
		d.t.Error("loomd did not stop on SIGTERM within 10s")
	}
}

// settled waits until loomd's status file holds what its API says of
// every host (a goroutine of loomd writes the file after each change),
// and cond holds for it; it returns the file's hosts.
func (d *loomd) settled(t *testing.T, l *Lab, what string, cond func(map[string]api.HostStatus) bool) map[string]api.HostStatus {
	t.Helper()
	var m map[string]api.HostStatus
	waitFor(t, what, 30*time.Second, func() bool {
		m = d.hosts()
		if !cond(m) {
			return false
		}
		out, _ := l.Loomctl("status", "-o", "json") // exits 1 while a host is not in sync
		var st api.Status
		if json.Unmarshal([]byte(out), &st) != nil || len(st.Hosts) != len(m) {
			return false
		}
		for _, h := range st.Hosts {
			f := m[h.Host]
			if f.State != h.State || f.Revision != h.Revision || f.Reconciles != h.Reconciles {
				return false
			}
		}
		return true
	})
	return m
}

var (
	reconciledRE = regexp.MustCompile(`"msg":"reconciled".*`)
	flowModsRE   = regexp.MustCompile(`"flow_mods":(\d+)`)
	ovsdbRE      = regexp.MustCompile(`"ovsdb_changes":(\d+)`)
)

// sentFlowMods tells whether a loomd log (JSON) shows a reconcile that
// sent flow mods.
func sentFlowMods(log string) bool {
	for _, line := range reconciledRE.FindAllString(log, -1) {
		if m := flowModsRE.FindStringSubmatch(line); m != nil && m[1] != "0" {
			return true
		}
	}
	return false
}

// TestQuickstart follows docs/quickstart.md step by step on a 2-host lab:
// loomd in the controller namespace with its state in a folder, the
// example applied with loomctl, status and flows checked, a port added
// imperatively for a third workload, and loomd restarted on the same state
// without the data plane noticing.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	start := time.Now()
	l := NewLab(t, "lm-t7-", 2)
	w := ws{
		"web1": {"h1", "web1", "02:00:00:00:01:01", "192.0.2.11", "24"},
		"db1":  {"h2", "db1", "02:00:00:00:01:02", "192.0.2.12", "24"},
		"web2": {"h2", "web2", "02:00:00:00:01:03", "192.0.2.13", "24"},
	}
	w.add(l, "web1", "db1")
	if out, err := l.Exec(w["web1"].ns(), "ping", "-c", "1", "-W", "1", w["db1"].ip); err == nil {
		t.Fatalf("web1 reaches db1 before anything was applied:\n%s", out)
	}

	state := filepath.Join(t.TempDir(), "state")
	d := startAPILoomd(t, l, state)
	if out, err := l.Loomctl("status"); err == nil {
		t.Errorf("loomctl status exits 0 with no topology in force:\n%s", out)
	}

	// apply --yes: the plan, revision 1, and each host following it.
	example := filepath.Join(repoRoot(), "deploy/examples/two-hosts.yaml")
	out, err := l.Loomctl("apply", "-f", example, "--yes")
	if err != nil {
		t.Fatalf("loomctl apply: %v\n%s", err, out)
	}
	for _, want := range []string{
		`(?m)^~ h1: \d+ flows to add`, `(?m)^Plan: 2 hosts to change`, `(?m)^loomd took the topology as revision 1$`,
		`(?m)^\s*✓ h1: in sync at revision 1 `, `(?m)^\s*✓ h2: in sync at revision 1 `,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("loomctl apply: nothing matches %s in\n%s", want, out)
		}
	}

	status, err := l.Loomctl("status")
	if err != nil || !strings.Contains(status, "topology revision 1, written through the API: 2 hosts") ||
		!regexp.MustCompile(`(?m)^h1\s+in sync\s+1\s`).MatchString(status) ||
		!regexp.MustCompile(`(?m)^h2\s+in sync\s+1\s`).MatchString(status) {
		t.Errorf("loomctl status after apply: %v\n%s", err, status)
	}

	out, err = l.Loomctl("flows", "h1")
	if err != nil || !strings.Contains(out, "\n# no drift") || !strings.Contains(out, "# port web1 (two-hosts.yaml:21:5): ") ||
		!strings.Contains(out, "# switch blue (two-hosts.yaml:17:5): ") || !strings.Contains(out, "# pipeline: table miss") {
		t.Errorf("loomctl flows h1: %v\n%s", err, out)
	}
	if err := l.Ping(w["web1"].ns(), w["db1"].ip, 5); err != nil {
		t.Fatal(err)
	}

	// A third workload, and its port added imperatively.
	w.add(l, "web2")
	out, err = l.Loomctl("port", "add", "blue", "web2", "--host", "h2", "--mac", w["web2"].mac,
		"--ip", w["web2"].ip, "--interface", "lm-web2", "--wait", "30s")
	if err != nil || !strings.Contains(out, `port "web2" added to switch blue on host h2 (revision 2)`) ||
		!strings.Contains(out, "✓ h1: in sync at revision 2") || !strings.Contains(out, "✓ h2: in sync at revision 2") {
		t.Fatalf("loomctl port add --wait: %v\n%s", err, out)
	}
	for _, p := range [][2]string{{"web2", "web1"}, {"web2", "db1"}, {"web1", "web2"}} {
		if err := l.Ping(w[p[0]].ns(), w[p[1]].ip, 5); err != nil {
			t.Error(err)
		}
	}
	ports, err := l.Loomctl("get", "ports")
	if err != nil || !regexp.MustCompile(`(?m)^web2\s+blue\s+h2\s+02:00:00:00:01:03\s+192.0.2.13\s+lm-web2\s`).MatchString(ports) {
		t.Errorf("loomctl get ports: %v\n%s", err, ports)
	}

	// Restart loomd on the same state: same topology and revision, no
	// change on any switch, not a ping lost. The first loomd's log shows
	// the flow mods it sent, so the check of the second's can see them.
	if !sentFlowMods(d.log.String()) {
		t.Errorf("loomd logged no flow mods for revisions 1 and 2:\n%s", d.log.String())
	}
	steady := startPing(t, l, w["web1"], w["web2"].ip)
	time.Sleep(time.Second)
	restart := time.Now()
	d.stop()
	t.Logf("loomd exited %v after SIGTERM", time.Since(restart).Round(time.Millisecond))
	d = startAPILoomd(t, l, state)
	waitFor(t, "restarted loomd has reconciled both hosts", 30*time.Second, func() bool {
		m := d.hosts()
		return d.inSync("h1", "h2") && m["h1"].Revision == 2 && m["h2"].Revision == 2
	})
	t.Logf("loomd stopped and started again: hosts in sync after %v", time.Since(restart).Round(time.Millisecond))
	time.Sleep(time.Second) // let any follow-up reconcile show in the log
	sent, lost := steady.stop()
	t.Logf("web1 -> web2 across the restart: %d pings, %d lost", sent, lost)
	if sent == 0 || lost != 0 {
		t.Errorf("web1 -> web2 lost %d of %d pings across a restart of loomd", lost, sent)
	}
	reconciles := reconciledRE.FindAllString(d.log.String(), -1)
	t.Logf("the restarted loomd logged %d reconciles", len(reconciles))
	for _, host := range []string{"h1", "h2"} {
		if !strings.Contains(strings.Join(reconciles, "\n"), `"host":"`+host+`"`) {
			t.Errorf("the restarted loomd logged no reconcile of %s", host)
		}
	}
	for _, line := range reconciles {
		for _, re := range []*regexp.Regexp{flowModsRE, ovsdbRE} {
			if m := re.FindStringSubmatch(line); m == nil || m[1] != "0" {
				t.Errorf("the restarted loomd changed a switch: %s", line)
			}
		}
	}
	status, err = l.Loomctl("status")
	if err != nil || !strings.Contains(status, "topology revision 2, written through the API: 2 hosts, 1 switches, 3 ports") ||
		!regexp.MustCompile(`(?m)^h1\s+in sync\s+2\s`).MatchString(status) ||
		!regexp.MustCompile(`(?m)^h2\s+in sync\s+2\s`).MatchString(status) {
		t.Errorf("loomctl status after the restart: %v\n%s", err, status)
	}
	if after, err := l.Loomctl("get", "ports"); err != nil || after != ports {
		t.Errorf("loomctl get ports after the restart: %v\n%s\nbefore:\n%s", err, after, ports)
	}
	if out, err := l.Loomctl("show"); err != nil || !regexp.MustCompile(`port web2 on h2 \[in sync\] ofport \d+, link up`).MatchString(out) {
		t.Errorf("loomctl show: %v\n%s", err, out)
	}
	for _, p := range [][2]string{{"web2", "web1"}, {"db1", "web1"}} {
		if err := l.Ping(w[p[0]].ns(), w[p[1]].ip, 3); err != nil {
			t.Error(err)
		}
	}

	// Beyond the page: a revision that changes no host's flows (an ACL no
	// port uses) reaches every host without a reconcile.
	before := d.settled(t, l, "the status file at revision 2", func(m map[string]api.HostStatus) bool {
		return m["h1"].Revision == 2 && m["h2"].Revision == 2
	})
	out, err = l.Loomctl("acl", "add", "unused", "action=drop", "--wait", "30s")
	if err != nil || !strings.Contains(out, "✓ h1: in sync at revision 3") || !strings.Contains(out, "✓ h2: in sync at revision 3") ||
		strings.Count(out, "nothing to change for it") != 2 {
		t.Errorf("acl add of an unused ACL: %v\n%s", err, out)
	}
	// loomctl --wait followed loomd's status stream; the status file is
	// written after, by another goroutine of loomd: wait for it.
	after := d.settled(t, l, "the status file at revision 3", func(m map[string]api.HostStatus) bool {
		return m["h1"].Revision == 3 && m["h2"].Revision == 3
	})
	for h, s := range after {
		if s.Reconciles != before[h].Reconciles || s.Revision != 3 {
			t.Errorf("%s: %d reconciles at revision %d, was %d: a revision that leaves the host as it was reconciled it", h, s.Reconciles, s.Revision, before[h].Reconciles)
		}
	}

	// A workload's link that goes down: show says what OVS says.
	l.MustExec("h2", "ip", "link", "set", "lm-web2", "down")
	waitFor(t, "show reports web2's link down", 20*time.Second, func() bool {
		out, _ := l.Loomctl("show")
		return regexp.MustCompile(`port web2 on h2 \[in sync\] ofport \d+, link down`).MatchString(out)
	})
	t.Logf("quickstart took %v", time.Since(start).Round(time.Millisecond))
}
