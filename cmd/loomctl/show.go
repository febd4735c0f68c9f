package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
)

// shown is show's document: the desired topology as a tree, each host
// with its realized state.
type shown struct {
	Topology api.TopologyState `json:"topology"`
	Switches []shownSwitch     `json:"switches"`
	Hosts    []shownHost       `json:"hosts"`
}

type shownSwitch struct {
	Name     string      `json:"name"`
	Kind     string      `json:"kind"`
	Subnets  []string    `json:"subnets,omitempty"`
	MTU      int         `json:"mtu"`
	Ports    []shownPort `json:"ports"`
	Gateways []string    `json:"gateways,omitempty"`
	Remote   []shownVTEP `json:"externalEndpoints,omitempty"`
}

type shownPort struct {
	Name      string   `json:"name"`
	Host      string   `json:"host"`
	MAC       string   `json:"mac"`
	IPs       []string `json:"ips,omitempty"`
	Interface string   `json:"interface"`
	// Origin is where the port comes from: FILE:LINE, or "runtime
	// RUNTIME CONTAINER IFNAME" for a port a runtime made.
	Origin string `json:"origin"`
	ACLs   string `json:"acls,omitempty"`
	// State is its host's, or "down" when its host lists it among its
	// ports down (Problem says why).
	State   string `json:"state"`
	Problem string `json:"problem,omitempty"`
	// As OVS on the host last reported the interface (absent: not read yet).
	Observed *shownIface `json:"observed,omitempty"`
}

type shownIface struct {
	OnBridge bool   `json:"onBridge"`
	Ofport   int    `json:"ofport,omitempty"`
	Link     string `json:"link,omitempty"`
	Error    string `json:"error,omitempty"`
}

type shownVTEP struct {
	Name     string `json:"name"`
	IP       string `json:"ip"`
	Stations int    `json:"stations"`
}

type shownHost struct {
	Name   string          `json:"name"`
	OVSDB  string          `json:"ovsdb"`
	Bridge string          `json:"bridge"`
	Status *api.HostStatus `json:"status,omitempty"`
}

func newShowCmd(g *globals) *cobra.Command {
	var out output
	cmd := &cobra.Command{
		Use:   "show [switch|host|port [NAME]]",
		Short: "Show loomd's topology as a tree of switches and ports, with each host's realized state",
		Long: "Print the topology loomd holds as a tree, as ovn-nbctl show does: each switch with its\n" +
			"kind, subnets and MTU, its ports (host, MAC, IPs, interface, ACLs) and gateways, then each\n" +
			"host with what loomd made of it: its state, the revision it reached, its flows, its last error.\n\n" +
			"A kind shows only objects of that kind: show switch (the switches and their ports), show host\n" +
			"(the hosts' states), show port. With a name, only that object: a switch with its ports; a\n" +
			"host with its state and the ports on it, under their switches; a port under its switch, with\n" +
			"its host.",
		Example: "  loomctl show\n  loomctl show switch blue\n  loomctl show host h1\n  loomctl show port web1 -o yaml",
		Args:    cobra.MaximumNArgs(2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return []string{"switch", "host", "port"}, cobra.ShellCompDirectiveNoFileComp
			}
			if k, ok := showKinds[args[0]]; ok && len(args) == 1 {
				return g.completeNames(0, k)(cmd, nil, toComplete)
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			kind, name := "", ""
			if len(args) > 0 {
				if _, ok := showKinds[args[0]]; !ok {
					return fmt.Errorf("show %q: want switch, host or port (and a name)", args[0])
				}
				kind = map[string]string{"switches": "switch", "hosts": "host", "ports": "port"}[showKinds[args[0]]]
			}
			if len(args) == 2 {
				name = args[1]
			}
			t, _, err := g.stored(cmd)
			if err != nil {
				return err
			}
			c, err := g.remote.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			doc := buildShown(t, st, interfaces(cmd.Context(), c, t))
			if err := doc.filter(kind, name); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if ok, err := out.structured(w, doc); ok {
				return err
			}
			printShown(w, g.colors(w), doc)
			return nil
		},
	}
	out.flag(cmd, "table", "json", "yaml")
	return cmd
}

// showKinds are the kinds show filters by, and the kinds of their names
// for completion.
var showKinds = map[string]string{
	"switch": "switches", "switches": "switches", "host": "hosts", "hosts": "hosts", "port": "ports", "ports": "ports",
}

// filter keeps what show KIND [NAME] shows: the objects of kind (switch,
// host or port), or only the one named, with what it holds (a switch's
// ports; a host's ports, under their switches; a port's switch and host).
func (doc *shown) filter(kind, name string) error {
	if kind == "" {
		return nil
	}
	keepHost := func(keep func(h shownHost) bool) {
		hosts := []shownHost{}
		for _, h := range doc.Hosts {
			if keep(h) {
				hosts = append(hosts, h)
			}
		}
		doc.Hosts = hosts
	}
	keepPorts := func(keep func(p shownPort) bool) {
		switches := []shownSwitch{}
		for _, s := range doc.Switches {
			ports := []shownPort{}
			for _, p := range s.Ports {
				if keep(p) {
					ports = append(ports, p)
				}
			}
			if len(ports) > 0 {
				s.Ports, s.Gateways, s.Remote = ports, nil, nil
				switches = append(switches, s)
			}
		}
		doc.Switches = switches
	}
	switch kind {
	case "switch":
		doc.Hosts = []shownHost{}
		if name == "" {
			return nil
		}
		for _, s := range doc.Switches {
			if s.Name == name {
				doc.Switches = []shownSwitch{s}
				return nil
			}
		}
		return fmt.Errorf("no switch named %q", name)
	case "host":
		if name == "" {
			doc.Switches = []shownSwitch{}
			return nil
		}
		keepHost(func(h shownHost) bool { return h.Name == name })
		if len(doc.Hosts) == 0 {
			return fmt.Errorf("no host named %q", name)
		}
		keepPorts(func(p shownPort) bool { return p.Host == name })
	case "port":
		keepPorts(func(p shownPort) bool { return name == "" || p.Name == name })
		if name == "" {
			doc.Hosts = []shownHost{}
			return nil
		}
		if len(doc.Switches) == 0 {
			return fmt.Errorf("no port named %q", name)
		}
		host := doc.Switches[0].Ports[0].Host
		keepHost(func(h shownHost) bool { return h.Name == host })
	}
	return nil
}

// interfaces asks loomd what each host's OVS last reported of its bridge,
// for all hosts at once; a host it cannot say anything of is left out.
func interfaces(ctx context.Context, c *api.Client, t *topology.Topology) map[string]*api.HostInterfaces {
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out = map[string]*api.HostInterfaces{}
		sem = make(chan struct{}, 16)
	)
	for _, h := range t.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			hi, err := c.Interfaces(ctx, h.Name)
			if err != nil || hi.At.IsZero() {
				return
			}
			mu.Lock()
			out[h.Name] = hi
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func buildShown(t *topology.Topology, st *api.Status, ifs map[string]*api.HostInterfaces) *shown {
	status := map[string]*api.HostStatus{}
	for i := range st.Hosts {
		status[st.Hosts[i].Host] = &st.Hosts[i]
	}
	doc := &shown{Topology: st.Topology, Switches: []shownSwitch{}, Hosts: []shownHost{}}
	for _, s := range t.Switches {
		sw := shownSwitch{Name: s.Name, MTU: s.MTU, Ports: []shownPort{}}
		sw.Kind = fmt.Sprintf("overlay, %s key %d", s.Encapsulation, s.TunnelKey)
		if !s.Overlay() {
			sw.Kind = fmt.Sprintf("vlan %d on physnet %s", s.VLAN, s.Physnet)
		}
		for _, p := range s.Subnets {
			sw.Subnets = append(sw.Subnets, p.String())
		}
		for _, p := range t.Ports {
			if p.Switch != s.Name {
				continue
			}
			sp := shownPort{Name: p.Name, Host: p.Host, MAC: p.MAC.String(), Interface: p.Interface, Origin: origin(&p), State: api.StatePending}
			if p.Interface == "" {
				sp.Interface = "iface-id " + p.IfaceID
			}
			for _, ip := range p.IPs {
				sp.IPs = append(sp.IPs, ip.String())
			}
			if len(p.ACLsFromPort)+len(p.ACLsToPort) > 0 {
				sp.ACLs = fmt.Sprintf("from-port [%s] to-port [%s]", strings.Join(p.ACLsFromPort, ","), strings.Join(p.ACLsToPort, ","))
			}
			if hs := status[p.Host]; hs != nil {
				sp.State, sp.Problem = portState(hs, "port/"+p.Name)
			}
			if hi := ifs[p.Host]; hi != nil && p.Interface != "" {
				sp.Observed = &shownIface{}
				for _, i := range hi.Interfaces {
					if i.Name == p.Interface {
						sp.Observed = &shownIface{OnBridge: true, Ofport: i.Ofport, Link: i.LinkState, Error: i.Error}
					}
				}
			}
			sw.Ports = append(sw.Ports, sp)
		}
		for _, gw := range t.L2Gateways {
			if gw.Switch == s.Name {
				sw.Gateways = append(sw.Gateways, fmt.Sprintf("%s: vlan %d on %s of %s", gw.Name, gw.VLAN, gw.Physnet, gw.Host))
			}
		}
		for _, e := range t.ExternalEndpoints {
			if e.Switch == s.Name {
				sw.Remote = append(sw.Remote, shownVTEP{Name: e.Name, IP: e.IP.String(), Stations: len(e.Behind)})
			}
		}
		doc.Switches = append(doc.Switches, sw)
	}
	for _, h := range t.Hosts {
		doc.Hosts = append(doc.Hosts, shownHost{Name: h.Name, OVSDB: h.OVSDB, Bridge: h.Bridge, Status: status[h.Name]})
	}
	return doc
}

// portState is the state of a port of a host: down when the host lists
// it among its ports down, in sync when others are (the host is degraded),
// else its host's.
func portState(h *api.HostStatus, object string) (state, problem string) {
	for _, p := range h.PortsDown {
		if p.Object == object {
			return portDown, p.Problem
		}
	}
	if h.State == api.StateDegraded {
		return api.StateInSync, ""
	}
	return h.State, ""
}

// observedText says how OVS last reported a port's interface.
func observedText(col colors, o *shownIface) string {
	switch {
	case o == nil:
		return ""
	case !o.OnBridge:
		return " " + col.red("not on the bridge")
	case o.Error != "":
		return " " + col.red("ofport "+fmt.Sprint(o.Ofport)+": "+o.Error)
	case o.Link != "" && o.Link != "up":
		return fmt.Sprintf(" ofport %d, link %s", o.Ofport, col.red(o.Link))
	case o.Link != "":
		return fmt.Sprintf(" ofport %d, link %s", o.Ofport, o.Link)
	}
	return fmt.Sprintf(" ofport %d", o.Ofport)
}

func printShown(w io.Writer, col colors, doc *shown) {
	fmt.Fprintln(w, topologyLine(&doc.Topology))
	for _, s := range doc.Switches {
		fmt.Fprintf(w, "switch %s (%s", col.bold(s.Name), s.Kind)
		if len(s.Subnets) > 0 {
			fmt.Fprintf(w, ", %s", strings.Join(s.Subnets, " "))
		}
		fmt.Fprintf(w, ", mtu %d)\n", s.MTU)
		for _, p := range s.Ports {
			fmt.Fprintf(w, "    port %s on %s [%s]%s\n", p.Name, p.Host, stateColor(col, p.State), observedText(col, p.Observed))
			addr := p.MAC
			if len(p.IPs) > 0 {
				addr += " " + strings.Join(p.IPs, " ")
			}
			if p.Problem != "" {
				fmt.Fprintf(w, "        %s %s\n", col.red("down:"), p.Problem)
			}
			fmt.Fprintf(w, "        addresses: %s\n        interface: %s\n        from: %s\n", addr, p.Interface, p.Origin)
			if p.ACLs != "" {
				fmt.Fprintf(w, "        acls: %s\n", p.ACLs)
			}
		}
		for _, gw := range s.Gateways {
			fmt.Fprintf(w, "    l2 gateway %s\n", gw)
		}
		for _, e := range s.Remote {
			fmt.Fprintf(w, "    external endpoint %s at %s (%d stations)\n", e.Name, e.IP, e.Stations)
		}
	}
	for _, h := range doc.Hosts {
		fmt.Fprintf(w, "host %s (%s, bridge %s)\n", col.bold(h.Name), h.OVSDB, h.Bridge)
		if h.Status == nil {
			fmt.Fprintln(w, "    not reconciled yet")
			continue
		}
		fmt.Fprintf(w, "    %s\n", hostState(col, *h.Status))
	}
}
