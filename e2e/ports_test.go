package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
)

// portsTopology: two hosts, one GRE switch, a1 on h1, b1 and b9 on h2.
// b9's interface lm-b9 does not exist until the test makes it.
const portsTopology = `apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "tcp:198.18.0.11:6640", tunnelIP: 198.19.0.11, datapathType: netdev}
  - {name: h2, ovsdb: "tcp:198.18.0.12:6640", tunnelIP: 198.19.0.12, datapathType: netdev}
switches:
  - {name: green, tunnelKey: 10, subnets: [192.0.2.0/26]}
ports:
  - {name: a1, switch: green, host: h1, mac: "02:00:00:00:10:01", ips: [192.0.2.1], interface: lm-a1}
  - {name: b9, switch: green, host: h2, mac: "02:00:00:00:10:09", ips: [192.0.2.9], interface: lm-b9}
`

// b1 without, then with, an ACL that drops TCP to port 5432.
const (
	portsB1      = "  - {name: b1, switch: green, host: h2, mac: \"02:00:00:00:10:02\", ips: [192.0.2.2], interface: lm-b1}\n"
	portsB1ACL   = "  - {name: b1, switch: green, host: h2, mac: \"02:00:00:00:10:02\", ips: [192.0.2.2], interface: lm-b1, acls: {toPort: [no-db]}}\n"
	portsACLs    = "acls:\n  - name: no-db\n    rules:\n      - {name: db, action: drop, proto: tcp, dstPorts: 5432}\n"
	portsB1Moved = "  - {name: b1, switch: green, host: h2, mac: \"02:00:00:00:10:02\", ips: [192.0.2.2, 192.0.2.20], interface: lm-b1, acls: {toPort: [no-db]}}\n"
)

// TestBadPortContained: a port whose interface does not exist on its host
// holds nothing else of the host back. Its host is degraded, with the port
// named in plain words in status, show, flows and trace; an ACL added
// afterwards on another port of that host is enforced on real packets
// (with positive controls: before the ACL the traffic passed, and what the
// ACL allows still passes); once the interface exists, the port comes up
// by itself and pings. Last, a host that fails (its ovsdb-server stopped)
// tries a new revision at once, long before its backoff would.
func TestBadPortContained(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t8-", 2)
	w := ws{
		"a1": {"h1", "a1", "02:00:00:00:10:01", "192.0.2.1", "26"},
		"b1": {"h2", "b1", "02:00:00:00:10:02", "192.0.2.2", "26"},
		"b9": {"h2", "b9", "02:00:00:00:10:09", "192.0.2.9", "26"},
	}
	w.add(l, "a1", "b1")
	serveTCP(t, l, w["b1"], "5432", "80")
	topo := filepath.Join(t.TempDir(), "topology.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(topo, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(portsTopology + portsB1)
	// A long backoff, so that a retry that comes at once is seen to be
	// the new revision's doing (last subtest).
	d := startLoomd(t, t, l, topo, "--backoff-max", "30s")
	waitFor(t, "h1 in sync, h2 degraded with b9 down", 60*time.Second, func() bool {
		m := d.hosts()
		return m["h1"].State == api.StateInSync && m["h2"].State == api.StateDegraded && m["h2"].AtRevision()
	})
	h2 := d.hosts()["h2"]
	wantProblem := "port b9: interface lm-b9 does not exist on host h2 (start the workload, or fix the port's interface or host)"
	if len(h2.PortsDown) != 1 || h2.PortsDown[0].Problem != wantProblem || h2.PortsDown[0].Object != "port/b9" || h2.LastError != "" {
		t.Fatalf("h2's status: %+v", h2)
	}

	t.Run("status and show name the port", func(t *testing.T) {
		out, err := l.Loomctl("status")
		if err == nil || !strings.Contains(out, "down: h2: "+wantProblem) || !strings.Contains(out, "degraded") {
			t.Errorf("loomctl status (want exit 1, the port's problem): %v\n%s", err, out)
		}
		t.Logf("loomctl status:\n%s", out)
		out, err = l.Loomctl("show")
		t.Logf("loomctl show:\n%s", out)
		if err != nil || !strings.Contains(out, "port b9 on h2 [down]") || !strings.Contains(out, "port b1 on h2 [in sync]") ||
			!strings.Contains(out, "down: "+wantProblem) {
			t.Errorf("loomctl show: b9 down with its problem, b1 in sync: %v\n%s", err, out)
		}
		out, err = l.Loomctl("status", "-o", "json")
		var st struct{ Hosts []api.HostStatus }
		if jerr := json.Unmarshal([]byte(out), &st); jerr != nil || len(st.Hosts) != 2 || len(st.Hosts[1].PortsDown) != 1 {
			t.Errorf("loomctl status -o json: %v %v\n%s", err, jerr, out)
		}
	})

	// Positive control: before the ACL, a1 reaches b1 on 5432 and 80.
	if err := l.Ping(w["a1"].ns(), w["b1"].ip, 5); err != nil {
		t.Fatal(err)
	}
	for _, port := range []string{"5432", "80"} {
		if err := tcp(l, w["a1"], w["b1"].ip, port); err != nil {
			t.Fatalf("before the ACL: %v", err)
		}
	}

	t.Run("an ACL on another port of the host is enforced", func(t *testing.T) {
		before := d.hosts()["h2"].Desired
		start := time.Now()
		write(portsTopology + portsB1ACL + portsACLs)
		took := waitFor(t, "h2 at the ACL's revision", 30*time.Second, func() bool {
			h := d.hosts()["h2"]
			return h.Desired > before && h.AtRevision()
		})
		if h := d.hosts()["h2"]; h.State != api.StateDegraded || len(h.PortsDown) != 1 {
			t.Errorf("h2 after the ACL: %+v", h)
		}
		if err := tcp(l, w["a1"], w["b1"].ip, "5432"); err == nil {
			t.Errorf("a1 reaches b1:5432 through the drop ACL (%v after the file was written)", time.Since(start))
		}
		// What the ACL allows still passes.
		if err := tcp(l, w["a1"], w["b1"].ip, "80"); err != nil {
			t.Error(err)
		}
		if err := l.Ping(w["a1"].ns(), w["b1"].ip, 3); err != nil {
			t.Error(err)
		}
		t.Logf("ACL on b1 enforced with b9 down on the same host: h2 at the revision %v after the file was written (loomd reads files every 500 ms)",
			took.Round(time.Millisecond))
		if !planClean(l, topo) {
			out, _ := l.Loomctl("plan", "--direct", "-f", topo)
			t.Errorf("h2 is not fully programmed:\n%s", out)
		}
	})

	t.Run("flows and trace say the host has a port down", func(t *testing.T) {
		out, err := l.Loomctl("flows", "h2")
		if err != nil || !strings.Contains(out, "host h2 has a port down: "+wantProblem) || !strings.Contains(out, "no drift") {
			t.Errorf("loomctl flows h2: %v\n%s", err, out)
		}
		out, err = l.Loomctl("trace", "--from", "a1", "--to", "b9")
		if err != nil || !strings.Contains(out, "note: host h2 has a port down: "+wantProblem) {
			t.Errorf("loomctl trace --from a1 --to b9: %v\n%s", err, out)
		}
		out, err = l.Loomctl("trace", "--from", "a1", "--to", "b1", "--proto", "tcp", "--dport", "5432")
		if err != nil || !strings.Contains(out, "=> dropped") {
			t.Errorf("loomctl trace to b1:5432: %v\n%s", err, out)
		}
	})

	t.Run("the interface appears: the port comes up by itself", func(t *testing.T) {
		reconciles := d.hosts()["h2"].Reconciles
		start := time.Now()
		w.add(l, "b9")
		made := time.Since(start)
		took := waitFor(t, "h2 in sync", 10*time.Second, func() bool {
			h := d.hosts()["h2"]
			return h.State == api.StateInSync && len(h.PortsDown) == 0
		})
		if err := l.Ping(w["a1"].ns(), w["b9"].ip, 5); err != nil {
			t.Error(err)
		}
		if err := l.Ping(w["b9"].ns(), w["b1"].ip, 5); err != nil {
			t.Error(err)
		}
		// The port came up through OVSDB updates alone: OVS opened the new
		// device, loomd sent nothing.
		if n := d.hosts()["h2"].Reconciles; n != reconciles {
			t.Logf("h2 was reconciled %d times meanwhile (an audit or a probe may fall in)", n-reconciles)
		}
		t.Logf("b9's interface made in %v; h2 in sync %v after that (status read every 100 ms)", made.Round(time.Millisecond), took.Round(time.Millisecond))
		if out, err := l.Loomctl("status"); err != nil {
			t.Errorf("loomctl status once every port is up: %v\n%s", err, out)
		}
	})

	t.Run("a failing host tries a new revision at once", func(t *testing.T) {
		// While the fault file exists, loomd's bundles carry a flow the
		// switch refuses: flows deleted by hand on h2 make it fail, again
		// and again, with a growing backoff.
		os.WriteFile(d.fault, nil, 0o644)
		l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", "table=60,reg7=0/0")
		waitFor(t, "h2 failing, its next retry over 8 s away", 60*time.Second, func() bool {
			h := d.hosts()["h2"]
			return h.State == api.StateError && time.Until(h.NextRetry) > 8*time.Second
		})
		out, _ := l.Loomctl("flows", "h2")
		if !strings.Contains(out, "# host h2 is not in sync (error) at revision") || !strings.Contains(out, "the last failed") {
			t.Errorf("loomctl flows h2 while h2 fails:\n%s", out)
		}
		os.Remove(d.fault)
		h := d.hosts()["h2"]
		start := time.Now()
		write(portsTopology + portsB1Moved + portsACLs)
		took := waitFor(t, "h2 at the new revision", 8*time.Second, func() bool {
			x := d.hosts()["h2"]
			return x.Desired > h.Desired && x.AtRevision()
		})
		if time.Now().After(h.NextRetry) {
			t.Errorf("h2 reached the new revision only after its retry was due (%v)", h.NextRetry)
		}
		if !planClean(l, topo) {
			t.Error("h2 not fully programmed at the new revision")
		}
		t.Logf("failing h2 (retry due in %v) reached a new revision %v after it was written",
			h.NextRetry.Sub(start).Round(time.Millisecond), took.Round(time.Millisecond))
	})
}
