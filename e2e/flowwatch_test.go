package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFlowMonitor: loomd with its probe and audit an hour apart, so that
// neither can be what repairs (and a flow edit touches no OVSDB row): a
// Loom flow deleted, added or modified by hand (count-preserving) is
// repaired through the flow monitor, a flow outside Loom's cookie space
// stays, and a killed and restarted ovs-vswitchd gets its flows back. The
// control: with flow-monitor false, a hand deletion stays.
func TestFlowMonitor(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t10-", 2)
	w := ws{
		"a1": {"h1", "a1", "02:00:00:00:0a:01", "192.0.2.1", "24"},
		"b1": {"h2", "b1", "02:00:00:00:0b:01", "192.0.2.3", "24"},
	}
	w.add(l, "a1", "b1")
	topo := filepath.Join(repoRoot(), "e2e/testdata/two-ports.yaml")
	slow := []string{"--probe-interval", "1h", "--audit-interval", "1h"}
	d := startLoomd(t, t, l, topo, slow...)
	waitFor(t, "hosts in sync", 60*time.Second, func() bool { return d.inSync("h1", "h2") })
	if err := l.Ping(w["a1"].ns(), w["b1"].ip, 5); err != nil {
		t.Fatal(err)
	}
	ofctl := func(host string, args ...string) string {
		t.Helper()
		return l.MustExec(host, append([]string{"ovs-ofctl", "-O", "OpenFlow13"}, args...)...)
	}
	// A flow outside Loom's cookie space: Loom must leave it alone.
	ofctl("h1", "add-flow", "br-int", "table=60,priority=6,cookie=0x1234,reg7=0x124,actions=drop")
	foreignStays := func() {
		t.Helper()
		if out := ofctl("h1", "dump-flows", "br-int", "cookie=0x1234/-1"); !strings.Contains(out, "reg7=0x124") {
			t.Errorf("the flow outside Loom's cookie space is gone:\n%s", out)
		}
	}
	// An output flow of a1 (table 60).
	want := outputFlow(t, l, "h1")
	flow := selectFlow(want)
	repaired := func(what string) {
		t.Helper()
		took := waitFor(t, what+" repaired", 5*time.Second, func() bool { return planClean(l, topo) })
		if got := dumpFlows(t, l, "h1", flow); len(got) != 1 || !got[0].Equal(&want) {
			t.Errorf("after %s: the flow is not back as it was: %v", what, got)
		}
		foreignStays()
		t.Logf("%s: repaired within %v (as seen by loomctl plan, polled)", what, took.Round(10*time.Millisecond))
	}

	t.Run("deleted", func(t *testing.T) {
		ofctl("h1", "del-flows", "br-int", flow)
		repaired("a Loom flow deleted by hand")
	})
	t.Run("added", func(t *testing.T) {
		ofctl("h1", "add-flow", "br-int", "table=60,priority=7,cookie=0x4c4d0307000000ff,reg7=0x123,actions=drop")
		repaired("a flow added by hand in Loom's cookie space")
		if out := ofctl("h1", "dump-flows", "br-int", "cookie=0x4c4d0307000000ff/-1"); strings.Contains(out, "reg7=0x123") {
			t.Errorf("the flow added by hand is still there:\n%s", out)
		}
	})
	t.Run("modified", func(t *testing.T) {
		before := flowCount(t, l, "h1")
		ofctl("h1", "mod-flows", "br-int", flow+",actions=drop")
		if n := flowCount(t, l, "h1"); n != before {
			t.Fatalf("the flow count changed (%d -> %d): not a count-preserving edit", before, n)
		}
		repaired("a Loom flow's actions modified by hand (same count)")
	})
	t.Run("vswitchd restarted", func(t *testing.T) {
		l.Daemon("h2", "kill", "vswitchd")
		l.Daemon("h2", "start", "vswitchd")
		took := waitFor(t, "h2 reprogrammed", 5*time.Second, func() bool { return planClean(l, topo) })
		t.Logf("ovs-vswitchd kill -9 and start on h2: flows back within %v of start's return (loomctl plan, polled)", took.Round(10*time.Millisecond))
		if err := l.Ping(w["b1"].ns(), w["a1"].ip, 10); err != nil {
			t.Error(err)
		}
	})
	// Each repair was the monitor's doing: the log names the trigger.
	log := d.log.String()
	var lines []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"msg":"reconciled"`) || strings.Contains(line, "flow monitor") || strings.Contains(line, "flows changed") || strings.Contains(line, "flows put back") {
			lines = append(lines, line)
		}
	}
	t.Logf("loomd's reconciles and flow monitor events:\n%s", strings.Join(lines, "\n"))
	for _, trig := range []string{`"trigger":"flow change"`, `"trigger":"openflow reconnect"`, "flows put back on a switch that came back empty"} {
		if !strings.Contains(log, trig) {
			t.Errorf("loomd did not log %s", trig)
		}
	}
	for _, trig := range []string{`"trigger":"probe"`, `"trigger":"audit"`} {
		if strings.Contains(log, trig) {
			t.Errorf("loomd logged a reconcile with %s: the probe or the audit repaired something", trig)
		}
	}

	t.Run("control: monitor off", func(t *testing.T) {
		// loomd killed -9: its monitors (one ovs-ofctl per host) go with it.
		monitors := children(d.cmd.Process.Pid, "ovs-ofctl")
		if len(monitors) != 2 {
			t.Errorf("loomd runs %d ovs-ofctl processes in steady state, want 2 (one monitor per host)", len(monitors))
		}
		d.kill()
		waitFor(t, "loomd's monitors gone", time.Second, func() bool {
			for _, pid := range monitors {
				// Gone, or a zombie its new parent has not reaped yet.
				b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
				if err == nil && !strings.Contains(string(b), ") Z ") {
					return false
				}
			}
			return true
		})
		d = startLoomd(t, t, l, topo, append(slow, "--flow-monitor", "false")...)
		waitFor(t, "hosts in sync", 60*time.Second, func() bool { return d.inSync("h1", "h2") })
		if !strings.Contains(d.log.String(), `"flow_monitor":false`) {
			t.Fatalf("loomd did not log flow_monitor false")
		}
		ofctl("h1", "del-flows", "br-int", flow)
		time.Sleep(3 * time.Second)
		if planClean(l, topo) {
			t.Fatal("a hand deletion was repaired with the flow monitor off and the probe and audit an hour apart")
		}
		// It is still found by the next reconcile: a new revision of the
		// topology is not one; wake the host through its OVSDB instead.
		l.MustExec("h1", "ovs-vsctl", "del-port", "br-int", "lm-a1")
		waitFor(t, "repaired by a reconcile", 10*time.Second, func() bool { return planClean(l, topo) })
	})
}

// flowCount is the number of Loom's flows on host's integration bridge.
func flowCount(t *testing.T, l *Lab, host string) int {
	t.Helper()
	out := l.MustExec(host, "ovs-ofctl", "-O", "OpenFlow13", "dump-aggregate", "br-int", "cookie=0x4c4d000000000000/0xffff000000000000")
	m := regexp.MustCompile(`flow_count=(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("dump-aggregate: %s", out)
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

// children are the pids of pid's child processes named name.
func children(pid int, name string) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "("+name) {
			continue
		}
		var child, ppid int
		var state string
		fmt.Sscan(s[:strings.IndexByte(s, ' ')], &child)
		fmt.Sscan(s[i+2:], &state, &ppid)
		if ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// TestFlowMonitorTLS: the flow monitor over ssl: (the switches' listeners
// are pssl: only), with the probe and the audit an hour apart: a hand
// deletion is repaired and a restarted ovs-vswitchd gets its flows back,
// with no OpenFlow connection over tcp: in ovs-vswitchd's logs.
func TestFlowMonitorTLS(t *testing.T) {
	t.Parallel()
	l, files := newTLSLab(t, "lm-t11-", 2)
	topo, w := tlsTopology(t, l)
	d := startLoomd(t, t, l, topo, append([]string{"--probe-interval", "1h", "--audit-interval", "1h"}, files.args()...)...)
	waitFor(t, "hosts in sync", 60*time.Second, func() bool { return d.inSync("h1", "h2") })
	waitFor(t, "both monitors connected", 10*time.Second, func() bool {
		return strings.Count(d.log.String(), `"msg":"flow monitor connected"`) >= 2
	})
	if err := l.Ping(w["s1"].ns(), w["s2"].ip, 5); err != nil {
		t.Fatal(err)
	}
	plan := func() bool {
		out, err := l.Loomctl(append([]string{"plan", "--direct", "-f", topo}, files.args()...)...)
		return err == nil && strings.Contains(out, "nothing changed on any switch")
	}

	l.MustExec("h1", "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", "table=60")
	took := waitFor(t, "hand deletion repaired", 5*time.Second, plan)
	t.Logf("table 60 deleted by hand on h1: repaired within %v (loomctl plan, polled)", took.Round(10*time.Millisecond))

	l.Daemon("h2", "kill", "vswitchd")
	l.Daemon("h2", "start", "vswitchd")
	took = waitFor(t, "h2 reprogrammed", 5*time.Second, plan)
	t.Logf("ovs-vswitchd kill -9 and start on h2: flows back within %v of start's return", took.Round(10*time.Millisecond))
	if err := l.Ping(w["s2"].ns(), w["s1"].ip, 10); err != nil {
		t.Error(err)
	}
	log := d.log.String()
	for _, want := range []string{`"trigger":"flow change"`, "flows put back on a switch that came back empty"} {
		if !strings.Contains(log, want) {
			t.Errorf("loomd did not log %s", want)
		}
	}
	for _, host := range []string{"h1", "h2"} {
		b, err := os.ReadFile(filepath.Join(labEnv(t, l, host)["OVS_LOGDIR"], "ovs-vswitchd.log"))
		if err != nil {
			t.Fatal(err)
		}
		// The repairs' bundles, over ssl (logged as their connections close).
		if !bytes.Contains(b, []byte("br-int<->ssl:198.18.0.1:")) {
			t.Errorf("%s: no OpenFlow connection over ssl: in ovs-vswitchd's log", host)
		}
		if bytes.Contains(b, []byte("br-int<->tcp:")) {
			t.Errorf("%s: an OpenFlow connection over tcp:", host)
		}
	}
}
