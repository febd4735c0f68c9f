package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
)

// loomd is a loomd process run in the lab's controller namespace.
type loomd struct {
	t      *testing.T
	cmd    *exec.Cmd
	status string // its status file
	fault  string // while this file exists, its bundles carry a flow the switch refuses
	log    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLoomd runs loomd on topo with short intervals, so that faults are
// noticed within seconds; it is stopped (SIGINT) when the test owner ends
// (the whole test, even when started by one of its subtests, t). Flags in
// extra come last (and so win).
func startLoomd(t, owner *testing.T, l *Lab, topo string, extra ...string) *loomd {
	t.Helper()
	return startLoomdEnv(t, owner, l, topo, nil, extra...)
}

// startLoomdEnv is startLoomd with more environment variables (env).
func startLoomdEnv(t, owner *testing.T, l *Lab, topo string, env []string, extra ...string) *loomd {
	t.Helper()
	dir := t.TempDir()
	d := &loomd{t: t, status: filepath.Join(dir, "status.json"), fault: filepath.Join(dir, "bad-flow"), log: &syncBuffer{}}
	d.cmd = exec.Command("ip", "netns", "exec", l.Prefix+"ctl", binary(t, "loomd"),
		"--config", filepath.Join(dir, "none.yaml"), "--topology", topo, "--state-dir", filepath.Join(dir, "state"),
		"--reload-interval", "500ms", "--audit-interval", "3s", "--probe-interval", "1s",
		"--backoff-max", "2s", "--host-timeout", "20s", "--status-file", d.status, "--log-level", "debug",
		"--listen", "127.0.0.1:9477")
	d.cmd.Args = append(d.cmd.Args, extra...)
	os.WriteFile(filepath.Join(dir, "none.yaml"), []byte("{}\n"), 0o644)
	d.cmd.Env = append(append(os.Environ(), "LOOM_FAULT_BAD_FLOW="+d.fault), env...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.stopAtEnd(owner)
	return d
}

// stopAtEnd stops loomd (SIGINT, then SIGKILL after 10 s, an error) when
// owner ends, and logs loomd's log if the test failed.
func (d *loomd) stopAtEnd(owner *testing.T) {
	t := d.t
	owner.Cleanup(func() {
		d.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-done
			t.Error("loomd did not stop on SIGINT within 10s")
		}
		if t.Failed() {
			t.Logf("loomd log:\n%s", d.log.String())
		}
	})
}

// kill stops loomd with SIGKILL, as a crash would.
func (d *loomd) kill() {
	d.cmd.Process.Kill()
	d.cmd.Wait()
}

// get fetches a path of loomd's HTTP server (inside the controller
// namespace, on its loopback).
func (d *loomd) get(l *Lab, path string) string {
	out, err := l.Exec("ctl", "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/9477 && printf 'GET `+path+` HTTP/1.0\r\n\r\n' >&3 && cat <&3`)
	if err != nil {
		d.t.Errorf("GET %s: %v\n%s", path, err, out)
	}
	return out
}

func (d *loomd) hosts() map[string]api.HostStatus {
	m := map[string]api.HostStatus{}
	b, err := os.ReadFile(d.status)
	if err == nil {
		json.Unmarshal(b, &m)
	}
	return m
}

// waitFor polls cond until it holds or the timeout passes; it returns how
// long it took.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, timeout)
	return 0
}

// inSync tells whether every host reports in sync.
func (d *loomd) inSync(hosts ...string) bool {
	m := d.hosts()
	for _, h := range hosts {
		if m[h].State != api.StateInSync {
			return false
		}
	}
	return true
}

// planClean runs `loomctl plan` against the lab: true when no host would
// change, i.e. OVSDB and flows equal the topology everywhere.
func planClean(l *Lab, topo string) bool {
	out, err := l.Loomctl("plan", "--direct", "-f", topo)
	return err == nil && strings.Contains(out, "nothing changed on any switch")
}

// pinger runs a continuous ping between two workloads and counts losses.
type pinger struct {
	cmd *exec.Cmd
	out syncBuffer
}

func startPing(t *testing.T, l *Lab, from workload, ip string) *pinger {
	p := &pinger{}
	p.cmd = exec.Command("ip", "netns", "exec", l.Prefix+from.ns(), "ping", "-i", "0.1", "-W", "1", ip)
	p.cmd.Stdout = &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

var pingStats = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// stop ends the ping and returns how many were sent and lost.
func (p *pinger) stop() (sent, lost int) {
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
	m := pingStats.FindStringSubmatch(p.out.String())
	if m == nil {
		return 0, -1
	}
	sent, _ = strconv.Atoi(m[1])
	recv, _ := strconv.Atoi(m[2])
	return sent, sent - recv
}

// TestFaults runs loomd on a 3-host lab and breaks things under it: each
// repair is checked on OVSDB and flows (loomctl plan finds nothing to
// change) and on the data plane, and its time is reported.
func TestFaults(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t5-", 3)
	w := ws{
		"g1": {"h1", "g1", "02:00:00:00:10:01", "192.0.2.1", "26"},
		"g2": {"h2", "g2", "02:00:00:00:10:02", "192.0.2.2", "26"},
		"g3": {"h3", "g3", "02:00:00:00:10:03", "192.0.2.3", "26"},
	}
	w.add(l, "g1", "g2", "g3")
	topo := filepath.Join(t.TempDir(), "topology.yaml")
	src, err := os.ReadFile("testdata/faults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(topo, src, 0o644); err != nil {
		t.Fatal(err)
	}
	top := t
	d := startLoomd(t, top, l, topo)
	took := waitFor(t, "all hosts in sync", 60*time.Second, func() bool { return d.inSync("h1", "h2", "h3") })
	t.Logf("converged from empty in %v", took.Round(time.Millisecond))
	for _, p := range [][2]string{{"g1", "g3"}, {"g3", "g2"}, {"g2", "g1"}} {
		if err := l.Ping(w[p[0]].ns(), w[p[1]].ip, 5); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("drift", func(t *testing.T) {
		l.MustExec("h1", "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", selectFlow(outputFlow(t, l, "h1")))
		l.MustExec("h1", "ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int", "table=60,priority=7,cookie=0x4c4d0307000000ff,reg7=0x123,actions=drop")
		l.MustExec("h1", "ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int", "table=60,priority=6,cookie=0x1234,reg7=0x124,actions=drop")
		took := waitFor(t, "drift repaired", 30*time.Second, func() bool { return planClean(l, "testdata/faults.yaml") })
		if out, err := l.Loomctl("flows", "--direct", "-f", "testdata/faults.yaml", "h1"); err != nil || !strings.Contains(out, "no drift") || !strings.Contains(out, "port g1 (") {
			t.Errorf("loomctl flows after the repair: %v\n%s", err, out)
		}
		t.Logf("hand-made drift repaired in %v", took.Round(time.Millisecond))
		if out := l.MustExec("h1", "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", "cookie=0x1234/-1"); !strings.Contains(out, "reg7=0x124") {
			t.Errorf("a flow outside Loom's cookie space was touched:\n%s", out)
		}
	})

	t.Run("vswitchd killed", func(t *testing.T) {
		// g1 <-> g3 must not notice what happens to h2.
		steady := startPing(t, l, w["g1"], w["g3"].ip)
		time.Sleep(time.Second)
		l.Daemon("h2", "kill", "vswitchd")
		l.Daemon("h2", "start", "vswitchd")
		start := time.Now()
		waitFor(t, "h2 reprogrammed", 60*time.Second, func() bool { return planClean(l, "testdata/faults.yaml") })
		if err := l.Ping(w["g2"].ns(), w["g1"].ip, 10); err != nil {
			t.Error(err)
		}
		t.Logf("ovs-vswitchd kill -9 and restart on h2: repaired in %v", time.Since(start).Round(time.Millisecond))
		sent, lost := steady.stop()
		t.Logf("g1 -> g3 meanwhile: %d pings, %d lost", sent, lost)
		if sent == 0 || lost != 0 {
			t.Errorf("g1 -> g3 lost %d of %d pings while h2 was broken", lost, sent)
		}
	})

	t.Run("ovsdb-server restarted", func(t *testing.T) {
		before := d.hosts()["h3"].Reconciles
		l.Daemon("h3", "restart", "ovsdb")
		start := time.Now()
		waitFor(t, "h3 resynced", 60*time.Second, func() bool {
			return d.hosts()["h3"].Reconciles > before && d.inSync("h3") && planClean(l, "testdata/faults.yaml")
		})
		t.Logf("ovsdb-server restart on h3: resynced in %v", time.Since(start).Round(time.Millisecond))
		if err := l.Ping(w["g3"].ns(), w["g1"].ip, 5); err != nil {
			t.Error(err)
		}
	})

	t.Run("interface deleted", func(t *testing.T) {
		l.MustExec("h1", "ovs-vsctl", "del-port", "br-int", "lm-g1")
		took := waitFor(t, "lm-g1 recreated", 30*time.Second, func() bool {
			out, _ := l.Exec("h1", "ovs-vsctl", "list-ports", "br-int")
			return strings.Contains(out, "lm-g1")
		})
		t.Logf("port deleted by hand: recreated in %v", took.Round(time.Millisecond))
		if err := l.Ping(w["g1"].ns(), w["g2"].ip, 10); err != nil {
			t.Error(err)
		}
	})

	t.Run("host unreachable", func(t *testing.T) {
		l.MgmtLink("h3", false)
		// A new port on h1 and on h3: h1 converges, h3 is reported.
		more := string(src) + `  - {name: g4, switch: green, host: h1, mac: "02:00:00:00:10:04", ips: [192.0.2.4], interface: lm-g4}
  - {name: g5, switch: green, host: h3, mac: "02:00:00:00:10:05", ips: [192.0.2.5], interface: lm-g5}
`
		w["g4"] = workload{"h1", "g4", "02:00:00:00:10:04", "192.0.2.4", "26"}
		w["g5"] = workload{"h3", "g5", "02:00:00:00:10:05", "192.0.2.5", "26"}
		w.add(l, "g4", "g5")
		if err := os.WriteFile(topo, []byte(more), 0o644); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "h3 reported and h1 converged", 60*time.Second, func() bool {
			m := d.hosts()
			return m["h3"].State != api.StateInSync && m["h3"].LastError != "" && d.inSync("h1", "h2") &&
				l.Ping(w["g4"].ns(), w["g2"].ip, 1) == nil
		})
		l.MgmtLink("h3", true)
		took := waitFor(t, "h3 converged once reachable", 60*time.Second, func() bool { return d.inSync("h1", "h2", "h3") })
		t.Logf("h3 converged %v after it became reachable", took.Round(time.Millisecond))
		if err := l.Ping(w["g5"].ns(), w["g4"].ip, 10); err != nil {
			t.Error(err)
		}
	})

	t.Run("bundle refused", func(t *testing.T) {
		before := d.hosts()["h2"]
		os.WriteFile(d.fault, nil, 0o644)
		// Drift on h2 makes loomd send a bundle, which now carries a flow
		// the switch refuses: nothing of it may be applied.
		l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", "table=60,reg7=0/0")
		waitFor(t, "h2 failing and retried", 30*time.Second, func() bool {
			h := d.hosts()["h2"]
			return h.State == api.StateError && h.Failures >= 2 && strings.Contains(h.LastError, "OFPBAC_BAD_OUT_GROUP")
		})
		if out := l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", "table=60"); strings.Contains(out, "group:") || strings.Count(out, "cookie=") > 1 {
			t.Errorf("part of a refused bundle was applied:\n%s", out)
		}
		os.Remove(d.fault)
		took := waitFor(t, "h2 repaired once bundles are accepted", 30*time.Second, func() bool {
			return d.hosts()["h2"].State == api.StateInSync && planClean(l, topo)
		})
		t.Logf("refused bundle: %d failed attempts, repaired %v after the fault ended (was %d reconciles before)",
			d.hosts()["h2"].Reconciles-before.Reconciles-1, took.Round(time.Millisecond), before.Reconciles)
		if d.cmd.ProcessState != nil {
			t.Error("loomd exited")
		}
	})

	// Counted by the first loomd, before the restarts below.
	t.Run("metrics and health", func(t *testing.T) {
		if out := d.get(l, "/healthz"); !strings.Contains(out, "200 OK") {
			t.Errorf("/healthz: %s", out)
		}
		if out := d.get(l, "/readyz"); !strings.Contains(out, "200 OK") {
			t.Errorf("/readyz: %s", out)
		}
		status, err := l.Loomctl("status")
		if err != nil || !regexp.MustCompile(`(?m)^h3\s+in sync\s+\d+`).MatchString(status) || !strings.Contains(status, "from "+topo+": 3 hosts") {
			t.Errorf("loomctl status: %v\n%s", err, status)
		}
		out := d.get(l, "/metrics")
		for _, re := range []string{
			`loom_drift_repairs_total\{host="h1"\} [1-9]`,
			`loom_reconciles_total\{host="h3",result="(unreachable|error)"\} [1-9]`,
			`loom_host_up\{host="h3"\} 1`,
			`loom_host_flows\{host="h2"\} [1-9]`,
			`loom_reconcile_duration_seconds_count\{result="ok"\} [1-9]`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("/metrics has no line matching %s", re)
			}
		}
	})
	t.Run("restart in steady state", func(t *testing.T) {
		// Warm the tunnel: OVS drops the first packet to a tunnel
		// endpoint whose MAC it has not resolved yet.
		if err := l.Ping(w["g2"].ns(), w["g3"].ip, 5); err != nil {
			t.Fatal(err)
		}
		steady := startPing(t, l, w["g2"], w["g3"].ip)
		time.Sleep(time.Second)
		d.kill()
		d = startLoomd(t, top, l, topo)
		waitFor(t, "restarted loomd in sync", 30*time.Second, func() bool { return d.inSync("h1", "h2", "h3") })
		time.Sleep(time.Second)
		for h, s := range d.hosts() {
			if s.LastChanges != 0 || s.Reconciles == 0 {
				t.Errorf("%s after a restart in steady state: %d reconciles, last changed %d things", h, s.Reconciles, s.LastChanges)
			}
		}
		if !strings.Contains(d.log.String(), `"trigger":"change"`) {
			t.Error("the restarted loomd logged no reconcile")
		}
		if strings.Contains(d.log.String(), `"flow_mods":`) && regexp.MustCompile(`"flow_mods":[1-9]`).MatchString(d.log.String()) {
			t.Errorf("the restarted loomd sent flow mods:\n%s", d.log.String())
		}
		sent, lost := steady.stop()
		t.Logf("loomd kill -9 and restart in steady state: %d pings, %d lost, 0 flow mods", sent, lost)
		if sent == 0 || lost != 0 {
			t.Errorf("g2 -> g3 lost %d of %d pings across a controller restart", lost, sent)
		}
	})

	t.Run("killed mid-apply", func(t *testing.T) {
		// A change loomd is killed in the middle of, at two moments: its
		// OVSDB plan made and the transaction not sent ("ovsdb"), the
		// transaction committed and the flows not sent ("flows"). A test
		// build of loomd holds h2's apply there and says so with a file
		// (controller/holdinject.go); the kill waits for that file and
		// checks that h2 is really half-way. Each time a new loomd
		// finishes the job.
		hasPort := func(name string) bool {
			return strings.Contains(l.MustExec("h2", "ovs-vsctl", "list-ports", "br-int"), "lm-"+name)
		}
		hasFlows := func(mac string) bool {
			return strings.Contains(l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int"), mac)
		}
		for i, at := range []string{"ovsdb", "flows"} {
			name := fmt.Sprintf("k%d", i)
			ip := fmt.Sprintf("192.0.2.%d", 20+i)
			w[name] = workload{"h2", name, fmt.Sprintf("02:00:00:00:10:2%d", i), ip, "26"}
			w.add(l, name)
			d.kill()
			b, _ := os.ReadFile(topo)
			b = append(b, fmt.Sprintf("  - {name: %s, switch: green, host: h2, mac: \"%s\", ips: [%s], interface: lm-%s}\n", name, w[name].mac, ip, name)...)
			os.WriteFile(topo, b, 0o644)
			held := t.TempDir()
			d = startLoomdEnv(t, top, l, topo, []string{"LOOM_FAULT_HOLD_DIR=" + held, "LOOM_FAULT_HOLD_AT=" + at})
			waitFor(t, "h2's apply held at "+at, 30*time.Second, func() bool {
				_, err := os.Stat(filepath.Join(held, at+"-h2"))
				return err == nil
			})
			// Under way: at "ovsdb" nothing of the change is on h2 yet; at
			// "flows" its port is, and its flows are not.
			switch port, fl := hasPort(name), hasFlows(w[name].mac); {
			case at == "ovsdb" && (port || fl):
				t.Fatalf("held before the OVSDB transaction, h2 already has port lm-%s (%v) or its flows (%v)", name, port, fl)
			case at == "flows" && (!port || fl):
				t.Fatalf("held before the flows, h2 has port lm-%s: %v (want true), its flows: %v (want false)", name, port, fl)
			}
			t.Logf("h2 held at %s: port lm-%s on the bridge %v, its flows on the switch %v; killing loomd", at, name, hasPort(name), hasFlows(w[name].mac))
			if h := d.hosts()["h2"]; h.AtRevision() && h.Desired > 0 {
				t.Fatalf("h2 says it reached its revision while its apply is held: %+v", h)
			}
			d.kill()
			d = startLoomd(t, top, l, topo)
			waitFor(t, "consistent after a kill mid-apply", 30*time.Second, func() bool { return d.inSync("h1", "h2", "h3") })
			// The same checks see the change once it is applied.
			if !hasPort(name) || !hasFlows(w[name].mac) {
				t.Errorf("after the kill at %s: port lm-%s %v, its flows %v", at, name, hasPort(name), hasFlows(w[name].mac))
			}
			if err := l.Ping(w[name].ns(), w["g1"].ip, 10); err != nil {
				t.Errorf("after a kill at %s in the apply: %v", at, err)
			}
		}
		if out, err := l.Loomctl("plan", "--direct", "-f", topo); err != nil || !strings.Contains(out, "nothing changed on any switch") {
			t.Errorf("not consistent: %v\n%s", err, out)
		}
	})

}
