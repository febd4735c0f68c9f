package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const recreateTopology = `apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "tcp:198.18.0.11:6640", tunnelIP: 198.19.0.11, datapathType: netdev}
  - {name: h2, ovsdb: "tcp:198.18.0.12:6640", tunnelIP: 198.19.0.12, datapathType: netdev}
switches:
  - {name: green, tunnelKey: 10, subnets: [192.0.2.32/27]}
ports:
  - {name: r1, switch: green, host: h1, mac: "02:00:00:00:20:01", ips: [192.0.2.33], interface: lm-r1}
  - {name: r2, switch: green, host: h2, mac: "02:00:00:00:20:02", ips: [192.0.2.34], interface: lm-r2}
`

// TestRecreatedInterface: a workload deleted and made again under the same
// interface name (a container restarted: a new veth, a new ifindex) works
// again within a second, during a continuous ping.
//
// Why the ping proves the fix: the first part does the same recreation
// while loomd is not running and shows that Open vSwitch alone leaves the
// port dead (OVSDB shows the same ofport and no error, and no packet
// passes). So when, with loomd running, the pings come back, it is loomd
// that made OVS open the new device: it saw the interface's ifindex change
// in its OVSDB monitor and deleted and re-added the port in two
// transactions.
func TestRecreatedInterface(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t9-", 2)
	w := ws{
		"r1": {"h1", "r1", "02:00:00:00:20:01", "192.0.2.33", "27"},
		"r2": {"h2", "r2", "02:00:00:00:20:02", "192.0.2.34", "27"},
	}
	w.add(l, "r1", "r2")
	topo := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(topo, []byte(recreateTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	// recreate restarts r1 as a container runtime does: a new namespace
	// (r1b, r1c, ...), the old veth deleted and a new one of the same name
	// (a new device, a new ifindex) joining the new namespace, configured
	// as before. Only the commands between the deletion and the new
	// veth's creation leave r1 without an interface. It returns how long
	// that took.
	gen := 'a'
	recreate := func() time.Duration {
		t.Helper()
		gen++
		r := w["r1"]
		r.name = "r1" + string(gen)
		ns, hostNS := l.Prefix+r.ns(), l.Prefix+r.host
		script := fmt.Sprintf(`set -e
ip netns add %[1]s
ip netns exec %[1]s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n %[2]s link del lm-r1
ip link add lm-r1 netns %[2]s type veth peer name eth0 netns %[1]s
ip -n %[2]s link set lm-r1 mtu 1400
ip netns exec %[2]s ethtool -K lm-r1 tx off >/dev/null
ip -n %[2]s link set lm-r1 up
ip -n %[1]s link set eth0 address %[3]s mtu 1400
ip netns exec %[1]s ethtool -K eth0 tx off >/dev/null
ip -n %[1]s addr add %[4]s/%[5]s dev eth0
ip -n %[1]s link set eth0 up
`, ns, hostNS, r.mac, r.ip, r.plen)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		start := time.Now()
		if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("restart r1 into %s: %v\n%s", ns, err, out)
		}
		w["r1"] = r
		return time.Since(start)
	}
	ifindex := func() string {
		return strings.TrimSpace(l.MustExec("h1", "ovs-vsctl", "get", "Interface", "lm-r1", "ifindex"))
	}

	d := startLoomd(t, t, l, topo)
	waitFor(t, "both hosts in sync", 60*time.Second, func() bool { return d.inSync("h1", "h2") })
	if err := l.Ping(w["r2"].ns(), w["r1"].ip, 5); err != nil {
		t.Fatal(err)
	}

	// Without loomd the port stays dead.
	{
		d.kill()
		before := ifindex()
		recreate()
		if err := l.Ping(w["r2"].ns(), w["r1"].ip, 3); err == nil {
			t.Fatal("r2 reaches r1 after its interface was recreated, with no controller: nothing left for Loom to fix?")
		}
		after := ifindex()
		ofport := strings.TrimSpace(l.MustExec("h1", "ovs-vsctl", "get", "Interface", "lm-r1", "ofport"))
		t.Logf("recreated with loomd stopped: ifindex %s -> %s, ofport %s, and 3 pings lost", before, after, ofport)
		// Mend it as an operator would, for the next part: delete the
		// port; the new loomd adds it back.
		d = startLoomd(t, t, l, topo)
		waitFor(t, "in sync", 60*time.Second, func() bool { return d.inSync("h1", "h2") })
		l.MustExec("h1", "ovs-vsctl", "del-port", "br-int", "lm-r1")
		waitFor(t, "r1 back", 30*time.Second, func() bool { return l.Ping(w["r2"].ns(), w["r1"].ip, 1) == nil })
	}

	// With loomd, the port works again within a second.
	{
		// A ping every 20 ms: each lost one is 20 ms without traffic.
		const every = 20 * time.Millisecond
		ping := &pinger{}
		ping.cmd = exec.Command("ip", "netns", "exec", l.Prefix+w["r2"].ns(), "ping", "-i", "0.02", "-W", "1", w["r1"].ip)
		ping.cmd.Stdout = &ping.out
		if err := ping.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ping.cmd.Process.Kill(); ping.cmd.Wait() })
		answered := func() int { return len(icmpSeqRE.FindAllString(ping.out.String(), -1)) }
		waitFor(t, "pings answered", 10*time.Second, func() bool { return answered() >= 25 })
		before := ifindex()
		took := recreate()
		n := answered()
		start := time.Now()
		waitFor(t, "r1 answers again", 10*time.Second, func() bool { return answered() >= n+5 })
		back := time.Since(start)
		time.Sleep(time.Second) // a second of pings after, counted too
		sent, lost := ping.stop()
		gone := unanswered(ping.out.String(), sent)
		if len(gone) > 0 && gone[len(gone)-1] == sent {
			// The last ping was still in flight when ping stopped.
			gone, lost = gone[:len(gone)-1], lost-1
		}
		t.Logf("r1 recreated (ifindex %s -> %s) in %v; 5 answers again within %v; ping every %v: %d sent, %d lost (%v without traffic): unanswered %v",
			before, ifindex(), took.Round(time.Millisecond), back.Round(time.Millisecond), every, sent, lost, time.Duration(lost)*every, gone)
		if sent == 0 || lost < 0 || time.Duration(lost)*every > time.Second {
			t.Errorf("%d of %d pings lost: more than 1 s without traffic", lost, sent)
		}
		if m := regexp.MustCompile(`"msg":"ports re-added for recreated interfaces".*"duration":([0-9.e-]+)`).FindStringSubmatch(d.log.String()); m == nil {
			t.Error("loomd did not log re-adding the port")
		} else {
			t.Logf("loomd deleted and re-added the port in %s s", m[1])
		}
		// Traffic really flows: both ways, ping and TCP.
		if err := l.Ping(w["r1"].ns(), w["r2"].ip, 3); err != nil {
			t.Error(err)
		}
		serveTCP(t, l, w["r1"], "8080")
		if err := tcp(l, w["r2"], w["r1"].ip, "8080"); err != nil {
			t.Error(err)
		}
		if !planClean(l, topo) || !d.inSync("h1", "h2") {
			t.Error("not in sync after the recreation")
		}
	}
}

var icmpSeqRE = regexp.MustCompile(`icmp_seq=(\d+) `)

// unanswered lists the sequence numbers of pings (1..sent) that got no
// reply in ping's output.
func unanswered(out string, sent int) []int {
	got := map[int]bool{}
	for _, m := range icmpSeqRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		got[n] = true
	}
	var missing []int
	for i := 1; i <= sent; i++ {
		if !got[i] {
			missing = append(missing, i)
		}
	}
	return missing
}
