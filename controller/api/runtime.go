package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/loom-sdn/loom/topology"
)

// Runtime ports: ports a container runtime (the CNI plugin, the Docker
// driver, loomctl attach) makes and removes through loomd, at container
// speed, kept by loomd apart from the operator's files (docs/containers.md):
//
//	POST   runtime-ports                  add one (RuntimePortRequest), or get the one the
//	                                      container's interface already has
//	GET    runtime-ports                  list them (RuntimePorts)
//	DELETE runtime-ports/{name}           remove one; removing one that is not there is no error
//	DELETE runtime-ports?containerID=C&ifName=I  the same, by the container's interface

// Runtimes that make ports.
const (
	RuntimeCNI    = "cni"
	RuntimeDocker = "docker"
	RuntimeAttach = "attach"
)

// RuntimePortRequest is the body of POST runtime-ports. A request for a
// container's interface (ContainerID, IfName) that already has a port
// answers with that port (Created false), as long as it names the same
// switch, host and host-side interface: runtimes retry.
type RuntimePortRequest struct {
	Switch  string `json:"switch"`
	Host    string `json:"host"`
	Runtime string `json:"runtime"` // cni, docker or attach
	// ContainerID and IfName (the interface's name inside the container)
	// name the port for the runtime.
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifName"`
	// Interface is the host-side OVS interface that carries the port
	// (e.g. the host end of the container's veth); IfaceID instead binds
	// the interface whose external_ids:iface-id has this value. One of
	// the two.
	Interface string `json:"interface,omitempty"`
	IfaceID   string `json:"ifaceID,omitempty"`
	// MAC, if set, is the port's MAC; left out, loomd makes one, unique
	// on the switch.
	MAC string `json:"mac,omitempty"`
	// IPs, if set, are the port's addresses (without prefix length);
	// left out, loomd hands out one free address of each of the switch's
	// subnets.
	IPs []string `json:"ips,omitempty"`
	// Name, if set, is the port's name; left out, loomd makes one from
	// the runtime, the container and the interface.
	Name string `json:"name,omitempty"`
}

// RuntimePort is a port a runtime made.
type RuntimePort struct {
	Name        string `json:"name"`
	Switch      string `json:"switch"`
	Host        string `json:"host"`
	Runtime     string `json:"runtime"`
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifName"`
	Interface   string `json:"interface,omitempty"`
	IfaceID     string `json:"ifaceID,omitempty"`
	MAC         string `json:"mac"`
	// IPs are the port's addresses with the prefix length of their
	// subnet (192.0.2.5/24), IPv4 first.
	IPs []string `json:"ips"`
	// Gateways are the gateways of the switch's subnets (for the
	// container's default routes), IPv4 first.
	Gateways []string `json:"gateways,omitempty"`
	// MTU is the switch's MTU: the container's interface must use it.
	MTU int `json:"mtu"`
	// IPsGiven: the runtime chose the addresses (else loomd handed them
	// out).
	IPsGiven bool `json:"ipsGiven,omitempty"`
	// Ofport is the port's OpenFlow port, which loomd chose free on its
	// host when it made the port and keeps (topology.Port.Ofport).
	Ofport    uint32    `json:"ofport,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

// RuntimePortResult is the answer to POST runtime-ports.
type RuntimePortResult struct {
	RuntimePort
	// Created: the port is new; false: the container's interface already
	// had it (a retry).
	Created bool `json:"created"`
	// Revision is the topology's revision with the port in it.
	Revision int64    `json:"revision"`
	Timings  []Timing `json:"timings,omitempty"`
}

// RuntimePorts is the answer to GET runtime-ports.
type RuntimePorts struct {
	Revision int64         `json:"revision"`
	Ports    []RuntimePort `json:"ports"`
}

// RuntimePortDeleted is the answer to DELETE runtime-ports.
type RuntimePortDeleted struct {
	// Name is the port removed ("" if there was none).
	Name string `json:"name,omitempty"`
	// Deleted: the port was there and is gone; false: there was none
	// (DELETE is idempotent).
	Deleted  bool     `json:"deleted"`
	Revision int64    `json:"revision"`
	Timings  []Timing `json:"timings,omitempty"`
}

// Port is p as the compiler sees it.
func (p RuntimePort) Port() (topology.Port, error) {
	tp := topology.Port{Name: p.Name, Switch: p.Switch, Host: p.Host, Interface: p.Interface, IfaceID: p.IfaceID, PortSecurity: true, Ofport: p.Ofport,
		Runtime: &topology.RuntimeOrigin{Runtime: p.Runtime, ContainerID: p.ContainerID, IfName: p.IfName}}
	mac, err := net.ParseMAC(p.MAC)
	if err != nil {
		return tp, fmt.Errorf("runtime port %q: mac %q: %w", p.Name, p.MAC, err)
	}
	tp.MAC = mac
	for _, s := range p.IPs {
		pr, err := netip.ParsePrefix(s)
		if err != nil {
			return tp, fmt.Errorf("runtime port %q: ip %q: %w", p.Name, s, err)
		}
		tp.IPs = append(tp.IPs, pr.Addr())
	}
	return tp, nil
}

// Resolve is the topology loomd compiles, from its files' topology t and
// what GET topology carries besides (the addresses of ips: auto ports,
// the runtime ports): loomctl's get, show, explain and trace read it.
func (st *Topology) Resolve(t *topology.Topology) (*topology.Topology, error) {
	auto := make(map[string][]netip.Addr, len(st.AutoIPs))
	for name, list := range st.AutoIPs {
		for _, s := range list {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("port %q: auto ip %q: %w", name, s, err)
			}
			auto[name] = append(auto[name], ip)
		}
	}
	extra := make([]topology.Port, 0, len(st.RuntimePorts))
	for _, rp := range st.RuntimePorts {
		p, err := rp.Port()
		if err != nil {
			return nil, err
		}
		extra = append(extra, p)
	}
	return topology.Resolve(t, auto, extra)
}

// AddRuntimePort adds a runtime port, or returns the one the container's
// interface already has.
func (c *Client) AddRuntimePort(ctx context.Context, r RuntimePortRequest) (*RuntimePortResult, error) {
	var res RuntimePortResult
	return &res, c.do(ctx, http.MethodPost, "runtime-ports", r, &res)
}

// RuntimePorts lists the runtime ports.
func (c *Client) RuntimePorts(ctx context.Context) (*RuntimePorts, error) {
	var res RuntimePorts
	return &res, c.do(ctx, http.MethodGet, "runtime-ports", nil, &res)
}

// DeleteRuntimePort removes the runtime port of that name; one that is
// not there is no error (Deleted false).
func (c *Client) DeleteRuntimePort(ctx context.Context, name string) (*RuntimePortDeleted, error) {
	var res RuntimePortDeleted
	return &res, c.do(ctx, http.MethodDelete, "runtime-ports/"+url.PathEscape(name), nil, &res)
}

// DeleteContainerPort removes the runtime port of a container's
// interface; one that is not there is no error (Deleted false).
func (c *Client) DeleteContainerPort(ctx context.Context, containerID, ifName string) (*RuntimePortDeleted, error) {
	var res RuntimePortDeleted
	q := url.Values{"containerID": {containerID}, "ifName": {ifName}}
	return &res, c.do(ctx, http.MethodDelete, "runtime-ports?"+q.Encode(), nil, &res)
}
