package plumb

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"
	"unsafe"

	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/loom-sdn/loom/controller/api"
)

// ensureVeth makes the veth: ifName in contNS, hv in hostNS. If both ends
// are there already (an Add retried), they are kept (made false): a veth
// made again under the same name would stay dead on OVS's netdev bridge
// until its port is removed and added again (OVS-NOTES.md). A host end
// without its peer in the workload is a leftover: it is replaced.
func ensureVeth(contNS, hostNS ns.NetNS, ifName, hv string) (made bool, err error) {
	var hostIdx, peerIdx int
	if err := hostNS.Do(func(ns.NetNS) error {
		l, err := netlinksafe.LinkByName(hv)
		if err != nil {
			return nil
		}
		hostIdx = l.Attrs().Index
		if v, ok := l.(*netlink.Veth); ok {
			peerIdx, _ = netlink.VethPeerIndex(v)
		}
		return nil
	}); err != nil {
		return false, err
	}
	if hostIdx != 0 {
		kept := false
		if err := contNS.Do(func(ns.NetNS) error {
			l, err := netlinksafe.LinkByName(ifName)
			if err == nil && l.Attrs().Index == peerIdx {
				if _, ok := l.(*netlink.Veth); ok {
					kept = true
				}
			}
			return nil
		}); err != nil {
			return false, err
		}
		if kept {
			return false, nil
		}
		if err := deleteLink(hostNS, hv); err != nil {
			return false, err
		}
	}
	if err := contNS.Do(func(ns.NetNS) error {
		if _, err := netlinksafe.LinkByName(ifName); err == nil {
			return fmt.Errorf("interface %s exists already in netns %s", ifName, contNS.Path())
		}
		_, _, err := ip.SetupVethWithName(ifName, hv, 0, "", hostNS)
		return err
	}); err != nil {
		return false, fmt.Errorf("veth %s/%s: %w", hv, ifName, err)
	}
	return true, nil
}

// linkIn tells whether n has a link named name.
func linkIn(n ns.NetNS, name string) bool {
	found := false
	n.Do(func(ns.NetNS) error { //nolint:errcheck // not found either way
		_, err := netlinksafe.LinkByName(name)
		found = err == nil
		return nil
	})
	return found
}

// deleteLink removes the link named name in n; one not there is no error.
func deleteLink(n ns.NetNS, name string) error {
	return n.Do(func(ns.NetNS) error {
		if err := ip.DelLinkByName(name); err != nil && !errors.Is(err, ip.ErrLinkNotFound) {
			return fmt.Errorf("delete %s in netns %s: %w", name, n.Path(), err)
		}
		return nil
	})
}

// configure gives the workload's end the port's MAC, MTU, and (if
// addresses) addresses and default routes (via the switch's gateways),
// the host's end the MTU,
// both tx checksum offload off (with it on, TCP through the userspace
// datapath fails while ping works), and sets both up. It returns both
// ends' MACs.
func configure(contNS, hostNS ns.NetNS, ifName, hv string, p api.RuntimePort, addresses bool) (hostMAC, contMAC string, err error) {
	mac, err := net.ParseMAC(p.MAC)
	if err != nil {
		return "", "", fmt.Errorf("loomd's mac %q: %w", p.MAC, err)
	}
	err = hostNS.Do(func(ns.NetNS) error {
		l, err := netlinksafe.LinkByName(hv)
		if err != nil {
			return fmt.Errorf("host end %s: %w", hv, err)
		}
		if p.MTU > 0 && l.Attrs().MTU != p.MTU {
			if err := netlink.LinkSetMTU(l, p.MTU); err != nil {
				return fmt.Errorf("host end %s: mtu %d: %w", hv, p.MTU, err)
			}
		}
		// No IPv6 link-local address on the host end: the kernel would
		// answer for it (OVS-NOTES: keep IPs off such veths).
		disableIPv6(hv)
		if err := txOff(hv); err != nil {
			return fmt.Errorf("host end %s: %w", hv, err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("host end %s: up: %w", hv, err)
		}
		hostMAC = l.Attrs().HardwareAddr.String()
		return nil
	})
	if err != nil {
		return "", "", err
	}
	err = contNS.Do(func(ns.NetNS) error {
		l, err := netlinksafe.LinkByName(ifName)
		if err != nil {
			return fmt.Errorf("%s in netns %s: %w", ifName, contNS.Path(), err)
		}
		where := fmt.Sprintf("%s in netns %s", ifName, contNS.Path())
		if l.Attrs().HardwareAddr.String() != mac.String() {
			if err := netlink.LinkSetHardwareAddr(l, mac); err != nil {
				return fmt.Errorf("%s: mac %s: %w", where, mac, err)
			}
		}
		if p.MTU > 0 && l.Attrs().MTU != p.MTU {
			if err := netlink.LinkSetMTU(l, p.MTU); err != nil {
				return fmt.Errorf("%s: mtu %d: %w", where, p.MTU, err)
			}
		}
		if err := txOff(ifName); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		contMAC = mac.String()
		if !addresses {
			return nil // the runtime moves it, addresses it and sets it up
		}
		for _, s := range p.IPs {
			pr, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("loomd's address %q: %w", s, err)
			}
			a := &netlink.Addr{IPNet: prefixNet(pr)}
			if pr.Addr().Is6() {
				a.Flags = unix.IFA_F_NODAD // usable at once: loomd made it unique
			}
			if err := netlink.AddrReplace(l, a); err != nil {
				return fmt.Errorf("%s: address %s: %w", where, s, err)
			}
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("%s: up: %w", where, err)
		}
		for _, g := range gateways(p) {
			r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: g.AsSlice(), Scope: netlink.SCOPE_UNIVERSE}
			if g.Is4() {
				r.Dst = &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
			} else {
				r.Dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
			}
			if err := netlink.RouteReplace(r); err != nil {
				return fmt.Errorf("%s: default route via %s: %w", where, g, err)
			}
		}
		contMAC = mac.String()
		return nil
	})
	return hostMAC, contMAC, err
}

// gateways are the port's gateways of the families it has an address of.
func gateways(p api.RuntimePort) []netip.Addr {
	var out []netip.Addr
	for _, s := range p.Gateways {
		g, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if slices.ContainsFunc(p.IPs, func(a string) bool {
			pr, err := netip.ParsePrefix(a)
			return err == nil && pr.Addr().Is4() == g.Is4() && pr.Contains(g)
		}) {
			out = append(out, g)
		}
	}
	return out
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// verify checks what configure did (Check).
func verify(contNS, hostNS ns.NetNS, ifName, hv string, p api.RuntimePort) error {
	if err := hostNS.Do(func(ns.NetNS) error {
		l, err := netlinksafe.LinkByName(hv)
		if err != nil {
			return fmt.Errorf("host end %s in netns %s: %w", hv, hostNS.Path(), err)
		}
		if l.Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("host end %s is down", hv)
		}
		return nil
	}); err != nil {
		return err
	}
	return contNS.Do(func(ns.NetNS) error {
		where := fmt.Sprintf("%s in netns %s", ifName, contNS.Path())
		l, err := netlinksafe.LinkByName(ifName)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if got := l.Attrs().HardwareAddr.String(); got != p.MAC {
			return fmt.Errorf("%s: mac %s, loomd's port %s has %s", where, got, p.Name, p.MAC)
		}
		if p.MTU > 0 && l.Attrs().MTU != p.MTU {
			return fmt.Errorf("%s: mtu %d, the switch's is %d", where, l.Attrs().MTU, p.MTU)
		}
		if l.Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("%s is down", where)
		}
		addrs, err := netlinksafe.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return fmt.Errorf("%s: addresses: %w", where, err)
		}
		for _, s := range p.IPs {
			pr, _ := netip.ParsePrefix(s)
			if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IPNet.String() == prefixNet(pr).String() }) {
				return fmt.Errorf("%s: address %s missing", where, s)
			}
		}
		routes, err := netlinksafe.RouteList(l, netlink.FAMILY_ALL)
		if err != nil {
			return fmt.Errorf("%s: routes: %w", where, err)
		}
		for _, g := range gateways(p) {
			if !slices.ContainsFunc(routes, func(r netlink.Route) bool {
				return (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw.Equal(g.AsSlice())
			}) {
				return fmt.Errorf("%s: default route via %s missing", where, g)
			}
		}
		return nil
	})
}

// disableIPv6 turns IPv6 off on dev, in the caller's netns (best effort:
// a kernel without IPv6 has no such file).
func disableIPv6(dev string) {
	f, err := unix.Open("/proc/sys/net/ipv6/conf/"+dev+"/disable_ipv6", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	unix.Write(f, []byte("1")) //nolint:errcheck // best effort
	unix.Close(f)
}

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct {
	cmd, data uint32
}

// ifreqData is struct ifreq with ifr_data.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data uintptr
	_    [16]byte
}

// txOff turns tx checksum offload off on dev (as `ethtool -K dev tx off`:
// ETHTOOL_STXCSUM clears every tx checksum feature, and the kernel drops
// the offloads that need them), in the caller's netns.
func txOff(dev string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tx checksum offload off: %w", err)
	}
	defer unix.Close(fd)
	v := ethtoolValue{cmd: unix.ETHTOOL_STXCSUM, data: 0}
	var req ifreqData
	copy(req.name[:], dev)
	req.data = uintptr(unsafe.Pointer(&v))
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&req))); errno != 0 {
		return fmt.Errorf("tx checksum offload off: %w", errno)
	}
	return nil
}

// announceIn sends announce's ARP replies for the port's addresses from
// ifName in contNS.
func announceIn(contNS ns.NetNS, ifName string, p api.RuntimePort) error {
	mac, err := net.ParseMAC(p.MAC)
	if err != nil {
		return err
	}
	var ips []netip.Addr
	for _, s := range p.IPs {
		if pr, err := netip.ParsePrefix(s); err == nil {
			ips = append(ips, pr.Addr())
		}
	}
	return contNS.Do(func(ns.NetNS) error { return announce(ifName, mac, ips) })
}

// announce sends, from dev (in the caller's netns), a gratuitous ARP
// reply for each IPv4 address to the broadcast MAC, and an unsolicited
// neighbour advertisement (override flag set) for each IPv6 address to
// all nodes: peers that knew the address under another MAC (a workload
// that had it before, an address freed and handed out again) update their
// neighbour caches at once instead of sending to the old MAC until the
// entry goes stale. Peers that did not know it ignore them.
func announce(dev string, mac net.HardwareAddr, ips []netip.Addr) error {
	l, err := netlinksafe.LinkByName(dev)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		var proto uint16 = unix.ETH_P_IPV6
		frame, what := unsolicitedNA(mac, ip), "neighbour advertisement"
		if ip.Is4() {
			proto, frame, what = unix.ETH_P_ARP, garp(mac, ip), "gratuitous arp"
		}
		if err := sendFrame(l.Attrs().Index, proto, frame); err != nil {
			return fmt.Errorf("%s for %s: %w", what, ip, err)
		}
	}
	return nil
}

// sendFrame sends one Ethernet frame (with its header) out of the link.
func sendFrame(ifindex int, proto uint16, frame []byte) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(proto)))
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex, Halen: 6}
	copy(to.Addr[:], frame[:6])
	return unix.Sendto(fd, frame, 0, to)
}

// garp is a gratuitous ARP reply for ip (IPv4) from mac, to broadcast.
func garp(mac net.HardwareAddr, ip netip.Addr) []byte {
	a := ip.As4()
	f := make([]byte, 0, 42)
	f = append(f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	f = append(f, mac...)
	f = append(f, 0x08, 0x06)                // ARP
	f = append(f, 0, 1, 0x08, 0, 6, 4, 0, 2) // Ethernet, IPv4, reply
	f = append(f, mac...)
	f = append(f, a[:]...)
	f = append(f, mac...) // target MAC = sender's: Linux takes such a reply as gratuitous (arp_is_garp)
	f = append(f, a[:]...)
	return f
}

// unsolicitedNA is an unsolicited neighbour advertisement (RFC 4861
// 7.2.6) for ip (IPv6) from mac: from ip to all nodes (ff02::1), hop
// limit 255, override flag set, with the target link-layer address.
func unsolicitedNA(mac net.HardwareAddr, ip netip.Addr) []byte {
	src, dst := ip.As16(), netip.MustParseAddr("ff02::1").As16()
	icmp := make([]byte, 0, 32)
	icmp = append(icmp, 136, 0, 0, 0)  // neighbour advertisement, code 0, checksum below
	icmp = append(icmp, 0x20, 0, 0, 0) // flags: override
	icmp = append(icmp, src[:]...)     // target
	icmp = append(icmp, 2, 1)          // option: target link-layer address, 8 bytes
	icmp = append(icmp, mac...)
	// The checksum covers a pseudo-header: source, destination, length,
	// next header (58).
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	add(src[:])
	add(dst[:])
	add([]byte{0, 0, 0, byte(len(icmp)), 0, 0, 0, 58})
	add(icmp)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	cs := ^uint16(sum)
	icmp[2], icmp[3] = byte(cs>>8), byte(cs)

	f := make([]byte, 0, 14+40+len(icmp))
	f = append(f, 0x33, 0x33, 0, 0, 0, 1) // ff02::1's multicast MAC
	f = append(f, mac...)
	f = append(f, 0x86, 0xdd)
	f = append(f, 0x60, 0, 0, 0, 0, byte(len(icmp)), 58, 255) // version 6, payload length, ICMPv6, hop limit 255
	f = append(f, src[:]...)
	f = append(f, dst[:]...)
	return append(f, icmp...)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// DeleteLocal removes the link named name in the caller's netns; one not
// there is no error.
func DeleteLocal(name string) error {
	n, err := openNS("")
	if err != nil {
		return err
	}
	defer n.Close()
	return deleteLink(n, name)
}

// AnnounceWhenUp waits, for at most d, until the interface with the
// port's MAC in the netns at path is up with the port's IPv4 addresses,
// then sends announce's gratuitous ARP from it. It is for runtimes that
// address the interface themselves after the plugin hands it over
// (Docker, after Join): run it in a goroutine. The wait polls the netns
// (the runtime tells no one when it is done).
func AnnounceWhenUp(path string, p api.RuntimePort, d time.Duration) error {
	deadline := time.Now().Add(d)
	// The runtime may make the netns after handing the interface over.
	n, err := openNS(path)
	for err != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n, err = openNS(path)
	}
	if err != nil {
		return err
	}
	defer n.Close()
	mac, err := net.ParseMAC(p.MAC)
	if err != nil {
		return err
	}
	var ips, all []netip.Addr // IPv4 (waited for), every address (announced)
	for _, s := range p.IPs {
		if pr, err := netip.ParsePrefix(s); err == nil {
			all = append(all, pr.Addr())
			if pr.Addr().Is4() {
				ips = append(ips, pr.Addr())
			}
		}
	}
	for {
		var name string
		err := n.Do(func(ns.NetNS) error {
			links, err := netlinksafe.LinkList()
			if err != nil {
				return err
			}
			for _, l := range links {
				if l.Attrs().HardwareAddr.String() != mac.String() || l.Attrs().Flags&net.FlagUp == 0 {
					continue
				}
				addrs, err := netlinksafe.AddrList(l, netlink.FAMILY_V4)
				if err != nil {
					return err
				}
				if len(ips) == 0 || slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IP.Equal(ips[0].AsSlice()) }) {
					name = l.Attrs().Name
				}
			}
			if name == "" {
				return nil
			}
			return announce(name, mac, all)
		})
		if err != nil || name != "" {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no interface with mac %s up with %v in netns %s after %v", mac, ips, path, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
