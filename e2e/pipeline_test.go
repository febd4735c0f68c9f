package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// ws are the workloads of a test topology: name -> where and what.
type ws map[string]workload

func (w ws) add(l *Lab, names ...string) {
	for _, n := range names {
		x := w[n]
		l.Workload(x.host, x.name, x.mac, x.ip+"/"+x.plen)
	}
}

var overlayWorkloads = ws{
	"g1":     {"h1", "g1", "02:00:00:00:10:01", "192.0.2.1", "26"},
	"g2":     {"h2", "g2", "02:00:00:00:10:02", "192.0.2.2", "26"},
	"g3":     {"h3", "g3", "02:00:00:00:10:03", "192.0.2.3", "26"},
	"b1":     {"h1", "b1", "02:00:00:00:20:01", "192.0.2.65", "26"},
	"b3":     {"h3", "b3", "02:00:00:00:20:03", "192.0.2.67", "26"},
	"t2":     {"h2", "t2", "02:00:00:00:30:02", "192.0.2.130", "26"},
	"t3":     {"h3", "t3", "02:00:00:00:30:03", "192.0.2.131", "26"},
	"web":    {"h1", "web", "02:00:00:00:40:01", "192.0.2.193", "26"},
	"client": {"h2", "client", "02:00:00:00:40:02", "192.0.2.194", "26"},
}

// serveTCP starts lmtcp serving ports in a workload; it stops with the test.
func serveTCP(t *testing.T, l *Lab, w workload, ports ...string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.Prefix + w.ns(), binary(t, "lmtcp"), "serve"}, ports...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("lmtcp serve in %s: %q %v", w.ns(), buf, err)
	}
}

// tcp connects from a workload to ip:port, sending and checking 4 KB.
func tcp(l *Lab, from workload, ip, port string) error {
	out, err := l.Exec(from.ns(), binary(l.t, "lmtcp"), "connect", ip, port)
	if err != nil {
		return fmt.Errorf("tcp %s -> %s:%s: %v: %s", from.name, ip, port, err, strings.TrimSpace(out))
	}
	return nil
}

// noPing checks that from cannot reach ip.
func noPing(t *testing.T, l *Lab, from workload, ip string) {
	t.Helper()
	if err := l.Ping(from.ns(), ip, 2); err == nil {
		t.Errorf("%s reaches %s", from.name, ip)
	}
}

// capture runs tcpdump in a workload while fn runs and returns the
// packets it saw matching filter.
func capture(t *testing.T, l *Lab, in workload, filter string, fn func()) []string {
	return captureIn(t, l, in.ns(), "eth0", filter, fn)
}

// captureIn runs tcpdump on iface of lab namespace ns while fn runs.
func captureIn(t *testing.T, l *Lab, ns, iface, filter string, fn func()) []string {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", l.Prefix+ns, "tcpdump", "-l", "-n", "-e", "-i", iface, filter)
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// tcpdump says "listening on ..." once it captures.
	buf := make([]byte, 256)
	if _, err := stderr.Read(buf); err != nil {
		t.Fatal(err)
	}
	fn()
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	var lines []string
	for _, s := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if s != "" {
			lines = append(lines, s)
		}
	}
	return lines
}

// captureAll runs tcpdump on eth0 of each workload namespace while fn
// runs; it returns the lines each captured.
func captureAll(t *testing.T, l *Lab, nss []string, filter string, fn func()) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	var mu sync.Mutex
	started := make(chan struct{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	for _, ns := range nss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines := captureIn(t, l, ns, "eth0", filter, func() {
				started <- struct{}{}
				<-release
			})
			mu.Lock()
			out[ns] = lines
			mu.Unlock()
		}()
	}
	for range nss {
		<-started // every tcpdump listens
	}
	fn()
	close(release)
	wg.Wait()
	return out
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestOverlays: GRE, VXLAN and Geneve switches across three hosts, switch
// isolation, broadcast scope, port security on and off, stateless ACLs
// with real TCP connections, and IPv6 with the ND responder.
func TestOverlays(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t3-", 3)
	w := overlayWorkloads
	w.add(l, "g1", "g2", "g3", "b1", "b3", "t2", "t3", "web", "client")
	if out, err := l.Loomctl("apply", "--direct", "-f", "testdata/overlays.yaml"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}

	t.Run("encapsulations", func(t *testing.T) {
		for _, c := range []struct{ encap, a, b string }{{"gre", "g1", "g3"}, {"vxlan", "b1", "b3"}, {"geneve", "t2", "t3"}} {
			a, b := w[c.a], w[c.b]
			if err := l.Ping(a.ns(), b.ip, 5); err != nil {
				t.Errorf("%s: %v", c.encap, err)
			}
			if err := l.Ping(b.ns(), a.ip, 5); err != nil {
				t.Errorf("%s: %v", c.encap, err)
			}
			serveTCP(t, l, b, "7000")
			if err := tcp(l, a, b.ip, "7000"); err != nil {
				t.Errorf("%s: %v", c.encap, err)
			}
		}
		// One tunnel per (remote host, encapsulation), only where a
		// switch needs it: h1 has no geneve tunnel to h3 (teal is on h2
		// and h3; the geneve switch acl is on h1 and h2).
		for host, want := range map[string][]string{"h1": {"gre-h3", "vxl-h3", "vxlan"}, "h2": {"gnv-h3", "geneve"}} {
			ifaces := l.MustExec(host, "ovs-vsctl", "--columns=name,type", "list", "interface")
			for _, x := range want {
				if !strings.Contains(ifaces, x) {
					t.Errorf("%s has no %s interface:\n%s", host, x, ifaces)
				}
			}
			if host == "h1" && strings.Contains(ifaces, "gnv-h3") {
				t.Errorf("h1 has a geneve tunnel it does not need:\n%s", ifaces)
			}
		}
	})

	t.Run("isolation", func(t *testing.T) {
		// Same subnet-looking addresses are not needed: a port of one
		// switch cannot reach a port of another, and its broadcasts stay.
		l.MustExec(w["g1"].ns(), "ip", "addr", "add", "192.0.2.70/26", "dev", "eth0")
		defer l.MustExec(w["g1"].ns(), "ip", "addr", "del", "192.0.2.70/26", "dev", "eth0")
		noPing(t, l, w["g1"], w["b3"].ip)
		seen := capture(t, l, w["b3"], "arp", func() {
			l.Exec(w["g1"].ns(), "ping", "-c", "2", "-W", "1", "-I", "192.0.2.70", "192.0.2.99")
		})
		if len(seen) > 0 {
			t.Errorf("ARP from green reached blue:\n%s", strings.Join(seen, "\n"))
		}
	})

	t.Run("broadcast scope", func(t *testing.T) {
		// An ARP request for an address nobody has is flooded: each other
		// port of its switch gets every request g1 sends exactly once (no
		// copy twice, none back through a tunnel), no port of another
		// switch gets any.
		others := []string{"g2", "g3", "b1", "b3", "t2"}
		// Warm the tunnels: OVS drops a packet into a tunnel whose
		// underlay neighbour it has not resolved yet.
		l.Exec(w["g1"].ns(), "ping", "-c", "1", "-W", "1", w["g2"].ip)
		l.Exec(w["g1"].ns(), "ping", "-c", "1", "-W", "1", w["g3"].ip)
		var nss []string
		for _, n := range append([]string{"g1"}, others...) {
			nss = append(nss, w[n].ns())
		}
		seen := captureAll(t, l, nss, "arp and arp[24:4] = 0xc000023e", func() { // 192.0.2.62
			l.Exec(w["g1"].ns(), "ping", "-c", "2", "-W", "1", "192.0.2.62")
		})
		sent := len(seen[w["g1"].ns()])
		if sent == 0 {
			t.Fatal("g1 sent no ARP request: the check proves nothing")
		}
		for _, n := range others {
			c := len(seen[w[n].ns()])
			want := 0
			if strings.HasPrefix(n, "g") {
				want = sent
			}
			if c != want {
				t.Errorf("%s saw g1's %d broadcasts %d times, want %d:\n%s\ng1 sent:\n%s", n, sent, c, want, strings.Join(seen[w[n].ns()], "\n"), strings.Join(seen[w["g1"].ns()], "\n"))
			}
		}
	})

	t.Run("port security", func(t *testing.T) {
		// g1 has port security: a second, unlisted source address gets
		// nothing through. g2 has it off: the same trick works.
		for _, c := range []struct {
			from   string
			spoof  string
			passes bool
		}{{"g1", "192.0.2.41", false}, {"g2", "192.0.2.42", true}} {
			x := w[c.from]
			l.MustExec(x.ns(), "ip", "addr", "add", c.spoof+"/26", "dev", "eth0")
			_, err := l.Exec(x.ns(), "ping", "-c", "3", "-W", "1", "-I", c.spoof, w["g3"].ip)
			l.MustExec(x.ns(), "ip", "addr", "del", c.spoof+"/26", "dev", "eth0")
			if (err == nil) != c.passes {
				t.Errorf("%s pinging from spoofed %s: passed=%v, want %v", c.from, c.spoof, err == nil, c.passes)
			}
		}
		// A spoofed MAC from g1 is dropped too.
		g1 := w["g1"]
		l.MustExec(g1.ns(), "ip", "link", "set", "eth0", "address", "02:00:00:00:10:99")
		_, err := l.Exec(g1.ns(), "ping", "-c", "3", "-W", "1", w["g3"].ip)
		l.MustExec(g1.ns(), "ip", "link", "set", "eth0", "address", g1.mac)
		l.Exec(g1.ns(), "ip", "neigh", "flush", "all")
		if err == nil {
			t.Error("g1 with a spoofed MAC reaches g3")
		}
		if err := l.Ping(g1.ns(), w["g3"].ip, 5); err != nil {
			t.Errorf("g1 with its own MAC again: %v", err)
		}
	})

	t.Run("acl", func(t *testing.T) {
		web, client := w["web"], w["client"]
		serveTCP(t, l, web, "5001", "5002")
		if err := tcp(l, client, web.ip, "5002"); err != nil {
			t.Errorf("TCP 5002 is allowed: %v", err)
		}
		if err := tcp(l, client, web.ip, "5001"); err == nil {
			t.Error("TCP 5001 is dropped, yet the connection worked")
		}
		if err := l.Ping(client.ns(), web.ip, 3); err != nil {
			t.Errorf("ping is allowed: %v", err)
		}
		// web's replies to anything else are not allowed into client.
		serveTCP(t, l, client, "6000")
		if err := tcp(l, web, client.ip, "6000"); err == nil {
			t.Error("client accepts TCP 6000 with aclDefault deny")
		}
	})

	t.Run("ipv6", func(t *testing.T) {
		b1, b3 := w["b1"], w["b3"]
		for _, x := range []workload{b1, b3} {
			l.MustExec(x.ns(), "sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=0")
		}
		l.MustExec(b1.ns(), "ip", "-6", "addr", "add", "2001:db8:20::1/64", "dev", "eth0", "nodad")
		l.MustExec(b3.ns(), "ip", "-6", "addr", "add", "2001:db8:20::3/64", "dev", "eth0", "nodad")
		var err error
		for i := 0; i < 5; i++ {
			if _, err = l.Exec(b1.ns(), "ping", "-6", "-c", "1", "-W", "1", "2001:db8:20::3"); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("IPv6 ping b1 -> b3: %v", err)
		}
		neigh := l.MustExec(b1.ns(), "ip", "-6", "neigh", "show", "2001:db8:20::3")
		if !strings.Contains(neigh, b3.mac) {
			t.Errorf("b1 did not learn b3's MAC: %s", neigh)
		}
		// Port security holds for IPv6: from an address the port does not
		// list (its neighbour entry for b3 already made, so the echo
		// itself is sent), nothing reaches b3; from its own, pings pass
		// (the control, after as before).
		l.MustExec(b1.ns(), "ip", "-6", "addr", "add", "2001:db8:20::99/64", "dev", "eth0", "nodad")
		echo := "icmp6 and src host 2001:db8:20::99 and ip6[40] == 128"
		var sent []string
		arrived := capture(t, l, b3, echo, func() {
			sent = capture(t, l, b1, echo, func() {
				_, err = l.Exec(b1.ns(), "ping", "-6", "-c", "3", "-W", "1", "-I", "2001:db8:20::99", "2001:db8:20::3")
			})
		})
		l.MustExec(b1.ns(), "ip", "-6", "addr", "del", "2001:db8:20::99/64", "dev", "eth0")
		if len(sent) == 0 {
			t.Error("b1 sent no echo request from the spoofed address: the check proves nothing")
		}
		if err == nil || len(arrived) > 0 {
			t.Errorf("b1 pinging from an IPv6 address its port does not list reaches b3 (ping error %v):\n%s", err, strings.Join(arrived, "\n"))
		}
		if _, err := l.Exec(b1.ns(), "ping", "-6", "-c", "1", "-W", "2", "-I", "2001:db8:20::1", "2001:db8:20::3"); err != nil {
			t.Errorf("b1 from its own IPv6 address after the spoofed one: %v", err)
		}
	})
}
