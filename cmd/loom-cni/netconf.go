package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/plumb"
)

// NetConf is the plugin's network configuration (stdin), besides CNI's
// own keys (cniVersion, name, type, prevResult, runtimeConfig). See
// docs/containers.md.
type NetConf struct {
	types.NetConf
	// Switch is the Loom switch the network is; default: name.
	Switch string `json:"switch,omitempty"`
	// Server is loomd's API address; default http://127.0.0.1:9477.
	Server string `json:"server,omitempty"`
	// TokenFile holds loomd's bearer token (read on every call).
	TokenFile string `json:"tokenFile,omitempty"`
	// ServerCA, ClientCert and ClientKey are PEM files for an https
	// server, as loomctl's keys of the same names.
	ServerCA   string `json:"serverCA,omitempty"`
	ClientCert string `json:"clientCert,omitempty"`
	ClientKey  string `json:"clientKey,omitempty"`
	// Host is this machine's name in the Loom topology; default: the
	// machine's host name.
	Host string `json:"host,omitempty"`
	// HostNetns is the network namespace (a path, or a name under
	// /run/netns) where the host's ovs-vswitchd runs and the host end of
	// each veth goes; default: the plugin's own. For the lab, whose
	// hosts are namespaces.
	HostNetns string `json:"hostNetns,omitempty"`
	// ServerNetns is the network namespace to reach loomd from (a path
	// or a name); default: the plugin's own. For the lab, where loomd
	// runs in the controller's namespace.
	ServerNetns string `json:"serverNetns,omitempty"`
	// ReadyTimeout bounds how long ADD waits for loomd to report the port
	// working on the host (a Go duration); default 5s, "0" does not wait.
	ReadyTimeout string `json:"readyTimeout,omitempty"`
	// OVSDB, if set, is the host's OVSDB server (unix:PATH or
	// tcp:IP:PORT): the plugin then puts the veth's host end on Bridge
	// itself, with external_ids:iface-id, and loomd binds the port by
	// that iface-id (docs/containers.md). Empty: loomd puts the host end
	// on the bridge.
	OVSDB string `json:"ovsdb,omitempty"`
	// Bridge is the host's integration bridge, with OVSDB; default br-int.
	Bridge string `json:"bridge,omitempty"`

	RuntimeConfig struct {
		IPs []string `json:"ips,omitempty"`
		MAC string   `json:"mac,omitempty"`
	} `json:"runtimeConfig"`

	// readyTimeout is ReadyTimeout parsed.
	readyTimeout time.Duration
}

const (
	defaultServer       = "http://127.0.0.1:9477"
	defaultReadyTimeout = 5 * time.Second
)

// loadNetConf decodes and checks stdin's configuration and fills in the
// defaults. Its errors are CNI errors (code 6: not JSON; 7: bad values).
func loadNetConf(stdin []byte, hostname func() (string, error)) (*NetConf, error) {
	var c NetConf
	dec := json.NewDecoder(strings.NewReader(string(stdin)))
	if err := dec.Decode(&c); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "decode network configuration", err.Error())
	}
	var bad []string
	if c.Name == "" {
		bad = append(bad, "name: missing")
	}
	if c.Switch == "" {
		c.Switch = c.Name
	}
	if c.Server == "" {
		c.Server = defaultServer
	}
	if u, err := url.Parse(c.Server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad = append(bad, fmt.Sprintf("server %q: want http://HOST:PORT or https://HOST:PORT", c.Server))
	}
	if c.Host == "" {
		h, err := hostname()
		if err != nil || h == "" {
			bad = append(bad, fmt.Sprintf("host: missing, and the machine's host name is unknown (%v)", err))
		}
		c.Host = h
	}
	c.HostNetns = netnsPath(c.HostNetns)
	c.ServerNetns = netnsPath(c.ServerNetns)
	c.readyTimeout = defaultReadyTimeout
	if c.ReadyTimeout != "" {
		d, err := time.ParseDuration(c.ReadyTimeout)
		if c.ReadyTimeout == "0" {
			d, err = 0, nil
		}
		if err != nil || d < 0 {
			bad = append(bad, fmt.Sprintf("readyTimeout %q: want a duration such as 5s, or 0", c.ReadyTimeout))
		}
		c.readyTimeout = d
	}
	if c.OVSDB != "" && !strings.HasPrefix(c.OVSDB, "unix:") && !strings.HasPrefix(c.OVSDB, "tcp:") {
		bad = append(bad, fmt.Sprintf("ovsdb %q: want unix:PATH or tcp:IP:PORT", c.OVSDB))
	}
	if c.Bridge != "" && c.OVSDB == "" {
		bad = append(bad, "bridge: only with ovsdb (without it, loomd puts the interface on its bridge)")
	}
	for _, s := range c.RuntimeConfig.IPs {
		if _, err := parseIP(s); err != nil {
			bad = append(bad, fmt.Sprintf("runtimeConfig.ips: %v", err))
		}
	}
	if c.RuntimeConfig.MAC != "" {
		if m, err := net.ParseMAC(c.RuntimeConfig.MAC); err != nil || len(m) != 6 {
			bad = append(bad, fmt.Sprintf("runtimeConfig.mac %q: six hex bytes", c.RuntimeConfig.MAC))
		}
	}
	if len(bad) > 0 {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "bad network configuration", strings.Join(bad, "; "))
	}
	return &c, nil
}

// netnsPath is a namespace's path: a bare name is one under /run/netns.
func netnsPath(s string) string {
	if s == "" || strings.Contains(s, "/") {
		return s
	}
	return "/run/netns/" + s
}

// parseIP takes an address, with or without a prefix length (runtimes
// pass both).
func parseIP(s string) (netip.Addr, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	return a, nil
}

// cniArgs are the CNI_ARGS the plugin reads: IP (one or more, comma
// separated) and MAC, as podman passes a container's static address.
type cniArgs struct {
	IPs []string
	MAC string
}

func parseCNIArgs(s string) (cniArgs, error) {
	var a cniArgs
	if s == "" {
		return a, nil
	}
	for _, kv := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return a, types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_ARGS", fmt.Sprintf("%q: want KEY=VALUE", kv))
		}
		switch k {
		case "IP":
			for _, ipS := range strings.Split(v, ",") {
				ip, err := parseIP(ipS)
				if err != nil {
					return a, types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_ARGS", "IP: "+err.Error())
				}
				a.IPs = append(a.IPs, ip.String())
			}
		case "MAC":
			m, err := net.ParseMAC(v)
			if err != nil || len(m) != 6 {
				return a, types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_ARGS", fmt.Sprintf("MAC %q: six hex bytes", v))
			}
			a.MAC = m.String()
		}
	}
	return a, nil
}

// request is the plumbing request for a container's interface.
func (c *NetConf) request(containerID, netns, ifName string, args cniArgs) plumb.Request {
	r := plumb.Request{Switch: c.Switch, Host: c.Host, Runtime: api.RuntimeCNI, ContainerID: containerID, IfName: ifName,
		Netns: netns, HostNetns: c.HostNetns, ReadyTimeout: c.readyTimeout, IPs: args.IPs, MAC: args.MAC,
		OVSDB: c.OVSDB, Bridge: c.Bridge}
	if len(r.IPs) == 0 {
		for _, s := range c.RuntimeConfig.IPs {
			ip, _ := parseIP(s)
			r.IPs = append(r.IPs, ip.String())
		}
	}
	if r.MAC == "" && c.RuntimeConfig.MAC != "" {
		m, _ := net.ParseMAC(c.RuntimeConfig.MAC)
		r.MAC = m.String()
	}
	return r
}

// client is a client for loomd as the configuration says.
func (c *NetConf) client() (*api.Client, error) {
	cl := &api.Client{Server: c.Server}
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, types.NewError(types.ErrInvalidNetworkConfig, "tokenFile", err.Error())
		}
		cl.Token = strings.TrimSpace(string(b))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.ServerCA != "" || c.ClientCert != "" || c.ClientKey != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.ServerCA != "" {
			b, err := os.ReadFile(c.ServerCA)
			if err != nil {
				return nil, types.NewError(types.ErrInvalidNetworkConfig, "serverCA", err.Error())
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(b) {
				return nil, types.NewError(types.ErrInvalidNetworkConfig, "serverCA", c.ServerCA+": no PEM certificate in it")
			}
		}
		if c.ClientCert != "" || c.ClientKey != "" {
			kp, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
			if err != nil {
				return nil, types.NewError(types.ErrInvalidNetworkConfig, "clientCert/clientKey", err.Error())
			}
			tc.Certificates = []tls.Certificate{kp}
		}
		tr.TLSClientConfig = tc
	}
	if c.ServerNetns != "" {
		tr.DialContext = plumb.DialIn(c.ServerNetns)
	}
	cl.HTTP = &http.Client{Transport: tr}
	return cl, nil
}
