package plumb

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/loom-sdn/loom/controller/api"
)

// tempNS is a fresh anonymous network namespace (nothing named: nothing
// to leave behind), closed when the test ends. Needs root; in CI its
// absence fails the test.
func tempNS(t *testing.T) ns.NetNS {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("plumb's tests need root (network namespaces)")
		}
		t.Skip("plumb's tests need root (network namespaces)")
	}
	n, err := ns.TempNetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// fdPath is a path to n that stays n (TempNetNS's Path names the thread
// that made it, which has left it since).
func fdPath(n ns.NetNS) string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), n.Fd()) }

// ethtoolK is `ethtool -k dev` in n.
func ethtoolK(t *testing.T, n ns.NetNS, dev string) string {
	t.Helper()
	out, err := exec.Command("nsenter", "--net="+fdPath(n), "ethtool", "-k", dev).CombinedOutput()
	if err != nil {
		t.Fatalf("ethtool -k %s: %v\n%s", dev, err, out)
	}
	return string(out)
}

var port = api.RuntimePort{Name: "p1", MAC: "02:00:00:00:00:07", IPs: []string{"10.9.0.7/24", "fd00:9::7/64"},
	Gateways: []string{"10.9.0.1", "fd00:9::1"}, MTU: 1400}

// The veth as Add leaves it, on the kernel: the workload's end with the
// port's MAC, MTU, addresses and default routes, both ends up with tx
// checksum offload off; made again, it is kept; deleted, both ends go.
func TestVeth(t *testing.T) {
	host, cont := tempNS(t), tempNS(t)
	made, err := ensureVeth(cont, host, "eth0", "lmtest0")
	if err != nil || !made {
		t.Fatalf("ensureVeth: %v %v", made, err)
	}
	hostMAC, contMAC, err := configure(cont, host, "eth0", "lmtest0", port, true)
	if err != nil {
		t.Fatal(err)
	}
	if contMAC != port.MAC || hostMAC == "" || hostMAC == port.MAC {
		t.Errorf("macs: host %s, workload %s", hostMAC, contMAC)
	}
	if err := verify(cont, host, "eth0", "lmtest0", port); err != nil {
		t.Error(err)
	}
	for _, e := range []struct {
		n   ns.NetNS
		dev string
	}{{cont, "eth0"}, {host, "lmtest0"}} {
		if out := ethtoolK(t, e.n, e.dev); !strings.Contains(out, "tx-checksumming: off") {
			t.Errorf("%s: tx checksum offload on:\n%s", e.dev, out)
		}
	}
	// verify sees what differs.
	other := port
	other.MAC = "02:00:00:00:00:08"
	if err := verify(cont, host, "eth0", "lmtest0", other); err == nil || !strings.Contains(err.Error(), "mac 02:00:00:00:00:07") {
		t.Errorf("verify with another MAC: %v", err)
	}
	other = port
	other.IPs = []string{"10.9.0.8/24"}
	if err := verify(cont, host, "eth0", "lmtest0", other); err == nil || !strings.Contains(err.Error(), "address 10.9.0.8/24 missing") {
		t.Errorf("verify with another address: %v", err)
	}
	// Again (an ADD retried): kept, configure changes nothing.
	if made, err := ensureVeth(cont, host, "eth0", "lmtest0"); err != nil || made {
		t.Errorf("ensureVeth again: made %v, %v", made, err)
	}
	if _, _, err := configure(cont, host, "eth0", "lmtest0", port, true); err != nil {
		t.Errorf("configure again: %v", err)
	}
	// The gratuitous ARP leaves (sendto succeeds on an up veth).
	if err := announceIn(cont, "eth0", port); err != nil {
		t.Errorf("announce: %v", err)
	}
	// Another workload interface under a name the workload already has.
	if _, err := ensureVeth(cont, host, "eth0", "lmtest1"); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("ensureVeth over an existing eth0: %v", err)
	}
	if linkIn(host, "lmtest1") {
		t.Error("a refused ensureVeth left its host end")
	}
	if err := deleteLink(host, "lmtest0"); err != nil {
		t.Fatal(err)
	}
	if linkIn(host, "lmtest0") || linkIn(cont, "eth0") {
		t.Error("deleteLink left an end")
	}
	if err := deleteLink(host, "lmtest0"); err != nil {
		t.Errorf("deleteLink of a gone link: %v", err)
	}
}

// A hand-off (Docker): the workload's end stays in the caller's netns,
// with MAC and MTU, no address, down.
func TestVethHandOff(t *testing.T) {
	host, here := tempNS(t), tempNS(t)
	if _, err := ensureVeth(here, host, "lmhand0", "lmtest2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := configure(here, host, "lmhand0", "lmtest2", port, false); err != nil {
		t.Fatal(err)
	}
	err := here.Do(func(ns.NetNS) error {
		l, err := netlinksafe.LinkByName("lmhand0")
		if err != nil {
			return err
		}
		addrs, _ := netlinksafe.AddrList(l, netlink.FAMILY_V4)
		if l.Attrs().HardwareAddr.String() != port.MAC || l.Attrs().MTU != 1400 || len(addrs) != 0 || l.Attrs().Flags&net.FlagUp != 0 {
			t.Errorf("handed-off end: mac %s mtu %d addrs %v flags %v", l.Attrs().HardwareAddr, l.Attrs().MTU, addrs, l.Attrs().Flags)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := ethtoolK(t, here, "lmhand0"); !strings.Contains(out, "tx-checksumming: off") {
		t.Errorf("handed-off end: tx checksum offload on:\n%s", out)
	}
	// AnnounceWhenUp finds it once it is up with its address (as Docker
	// leaves it), and gives up after its time when it never is.
	if err := AnnounceWhenUp(fdPath(here), port, 100*time.Millisecond); err == nil {
		t.Error("AnnounceWhenUp on a down interface: no error")
	}
	err = here.Do(func(ns.NetNS) error {
		l, err := netlinksafe.LinkByName("lmhand0")
		if err != nil {
			return err
		}
		a, _ := netlink.ParseAddr("10.9.0.7/24")
		if err := netlink.AddrAdd(l, a); err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := AnnounceWhenUp(fdPath(here), port, 2*time.Second); err != nil {
		t.Errorf("AnnounceWhenUp: %v", err)
	}
}

func TestTxOffUnknownDevice(t *testing.T) {
	n := tempNS(t)
	err := n.Do(func(ns.NetNS) error { return txOff("nosuch0") })
	if err == nil || !strings.Contains(err.Error(), unix.ENODEV.Error()) {
		t.Errorf("txOff on a missing device: %v", err)
	}
}

// announce's frames, on the kernel: a peer that knew the port's addresses
// under another MAC learns the port's, for IPv4 (gratuitous ARP) and
// IPv6 (unsolicited neighbour advertisement); its entries showed the old
// MAC just before (the control).
func TestAnnounceUpdatesNeighbours(t *testing.T) {
	peer, cont := tempNS(t), tempNS(t)
	if _, err := ensureVeth(cont, peer, "eth0", "lmtest3"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := configure(cont, peer, "eth0", "lmtest3", port, true); err != nil {
		t.Fatal(err)
	}
	in := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("nsenter", append([]string{"--net=" + fdPath(peer), "ip"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out, err := exec.Command("nsenter", "--net="+fdPath(peer), "sysctl", "-qw", "net.ipv6.conf.lmtest3.disable_ipv6=0").CombinedOutput(); err != nil {
		t.Fatalf("enable IPv6 on the peer: %v\n%s", err, out)
	}
	in("addr", "add", "10.9.0.8/24", "dev", "lmtest3")
	in("addr", "add", "fd00:9::8/64", "dev", "lmtest3", "nodad")
	const old = "02:00:00:00:00:99"
	for _, ip := range []string{"10.9.0.7", "fd00:9::7"} {
		in("neigh", "replace", ip, "lladdr", old, "dev", "lmtest3", "nud", "stale")
		if got := in("neigh", "show", ip, "dev", "lmtest3"); !strings.Contains(got, old) {
			t.Fatalf("the peer's entry for %s: %q, want %s (the control)", ip, got, old)
		}
	}
	if err := announceIn(cont, "eth0", port); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"10.9.0.7", "fd00:9::7"} {
		deadline := time.Now().Add(2 * time.Second)
		for {
			got := in("neigh", "show", ip, "dev", "lmtest3")
			if strings.Contains(got, port.MAC) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("the peer's entry for %s after the announcement: %q, want %s", ip, got, port.MAC)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
