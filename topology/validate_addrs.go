package topology

// Addresses: MACs (written or derived), a port's IPs in its switch's
// subnets, IP ranges and a prefix's last address.

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"strings"
)

// LastAddr is the last address of p (its broadcast address for IPv4).
func LastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		bits := p.Bits() - i*8
		switch {
		case bits <= 0:
			b[i] = 0xff
		case bits < 8:
			b[i] |= 0xff >> bits
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ParseIPRange reads an address (192.0.2.7), a range of one family
// (192.0.2.2-192.0.2.9) or a CIDR (192.0.2.128/28).
func ParseIPRange(s string) (IPRange, error) {
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, err := netip.ParseAddr(strings.TrimSpace(from))
		if err != nil {
			return IPRange{}, err
		}
		b, err := netip.ParseAddr(strings.TrimSpace(to))
		if err != nil {
			return IPRange{}, err
		}
		a, b = a.Unmap(), b.Unmap()
		switch {
		case a.BitLen() != b.BitLen():
			return IPRange{}, fmt.Errorf("%s and %s are of two families", a, b)
		case b.Less(a):
			return IPRange{}, fmt.Errorf("%s comes after %s", a, b)
		}
		return IPRange{a, b}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return IPRange{}, err
		}
		p = p.Masked()
		return IPRange{p.Addr().Unmap(), LastAddr(p).Unmap()}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return IPRange{}, err
	}
	if a.Zone() != "" {
		return IPRange{}, fmt.Errorf("zone %q not allowed", a.Zone())
	}
	a = a.Unmap()
	return IPRange{a, a}, nil
}

// AutoMAC is the MAC a port named name gets with mac: auto: locally
// administered, unicast, from a hash of the name.
func AutoMAC(name string) net.HardwareAddr {
	h := fnv.New64a()
	h.Write([]byte("loom/port/" + name))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h.Sum64())
	return net.HardwareAddr{0x02, b[0], b[1], b[2], b[3], b[4]}
}

func (v *validation) mac(o obj, f, s string, auto bool) (net.HardwareAddr, bool) {
	if auto && s == "auto" {
		return AutoMAC(o.name), true
	}
	mac, err := net.ParseMAC(s)
	switch {
	case err != nil || len(mac) != 6:
		hint := "six hex bytes, e.g. 02:00:00:00:00:01"
		if auto {
			hint += ", or auto"
		}
		v.err(o, f, hint, "invalid MAC %q", s)
	case mac[0]&1 == 1:
		v.err(o, f, "the first byte must be even; 02:... is a safe choice", "MAC %s is a multicast address", mac)
	case mac.String() == "00:00:00:00:00:00":
		v.err(o, f, "", "MAC is all zeros")
	default:
		return mac, true
	}
	return nil, false
}

// ips parses addresses, each inside one of the switch's subnets (when the
// switch has subnets).
func (v *validation) ips(o obj, f string, list []string, sw *Switch) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for i, s := range list {
		at := o.src.item(f, i)
		ip, err := netip.ParseAddr(s)
		if err != nil || ip.Zone() != "" {
			hint := "an address such as 192.0.2.10 or 2001:db8::10"
			if strings.Contains(s, "/") {
				hint = "write the address without a prefix length; the switch's subnets give it"
			}
			if s == "auto" {
				hint = "write ips: auto alone, not in a list of addresses"
			}
			v.errAt(at, o, hint, "invalid IP %q", s)
			continue
		}
		ip = ip.Unmap()
		if seen[ip] {
			v.errAt(at, o, "", "IP %s listed twice", ip)
			continue
		}
		seen[ip] = true
		if sw != nil && len(sw.Subnets) > 0 {
			inside, family := false, false
			for _, p := range sw.Subnets {
				family = family || p.Addr().Is4() == ip.Is4()
				inside = inside || p.Contains(ip)
			}
			switch {
			case !family:
				v.errAt(at, o, "", "IP %s: switch %q has no IPv%d subnet", ip, sw.Name, map[bool]int{true: 4, false: 6}[ip.Is4()])
			case !inside:
				v.errAt(at, o, "", "IP %s is outside the subnets of switch %q (%s)", ip, sw.Name, prefixes(sw.Subnets))
			}
		}
		out = append(out, ip)
	}
	return out
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
