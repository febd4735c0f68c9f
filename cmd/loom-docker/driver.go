package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/plumb"
)

// Docker's remote network driver protocol (libnetwork's remote driver):
// POSTs of JSON to /Plugin.Activate and /NetworkDriver.*, answered with
// JSON ({"Err": "..."} on failure). See docs/containers.md.

// endpointIf is the interface name loomd's ports of Docker endpoints
// carry: Docker picks the name inside the container (eth0, eth1, ...)
// after the driver answers, and never tells it.
const endpointIf = "eth"

// driver serves the protocol for one Loom host.
type driver struct {
	log    *zap.Logger
	client *api.Client
	// host is the Loom host; hostNetns where its ovs-vswitchd runs ("":
	// ours).
	host, hostNetns string
	// tempPrefix names the container ends of veths until Docker moves
	// them into containers (with 8 hex digits of the endpoint).
	tempPrefix   string
	readyTimeout time.Duration

	// networks caches loomd's runtime networks of Docker (network id ->
	// switch), which loomd keeps: Docker tells a driver of a network only
	// when it is created, and a restarted driver asks loomd.
	mu       sync.Mutex
	networks map[string]string
}

func (d *driver) switchOf(ctx context.Context, networkID string) (string, error) {
	d.mu.Lock()
	sw, ok := d.networks[networkID]
	d.mu.Unlock()
	if ok {
		return sw, nil
	}
	n, err := d.client.RuntimeNetwork(ctx, api.RuntimeDocker, networkID)
	if api.IsNotFound(err) {
		return "", fmt.Errorf("network %.12s is not one of loomd's (made by another loomd, or deleted there?)", networkID)
	}
	if err != nil {
		return "", fmt.Errorf("network %.12s: loomd: %w", networkID, err)
	}
	d.mu.Lock()
	d.networks[networkID] = n.Switch
	d.mu.Unlock()
	return n.Switch, nil
}

// tempName is the name of an endpoint's container end until Docker moves
// it.
func (d *driver) tempName(endpointID string) string {
	sum := sha256.Sum256([]byte(endpointID))
	return d.tempPrefix + hex.EncodeToString(sum[:])[:15-len(d.tempPrefix)]
}

func (d *driver) request(endpointID, sw string) plumb.Request {
	return plumb.Request{Switch: sw, Host: d.host, Runtime: api.RuntimeDocker, ContainerID: endpointID, IfName: endpointIf,
		HostNetns: d.hostNetns, HandOff: d.tempName(endpointID), ReadyTimeout: d.readyTimeout}
}

// The protocol's documents (the fields the driver reads or writes).
type (
	createNetworkRequest struct {
		NetworkID string
		Options   map[string]any
		IPv4Data  []ipamData
	}
	ipamData struct {
		Pool, Gateway string
	}
	networkRequest struct {
		NetworkID string
	}
	endpointInterface struct {
		Address, AddressIPv6, MacAddress string
	}
	createEndpointRequest struct {
		NetworkID, EndpointID string
		Interface             *endpointInterface
		Options               map[string]any
	}
	endpointRequest struct {
		NetworkID, EndpointID string
	}
	joinRequest struct {
		NetworkID, EndpointID, SandboxKey string
	}
	interfaceName struct {
		SrcName, DstPrefix string
	}
	joinResponse struct {
		InterfaceName *interfaceName
		Gateway       string `json:",omitempty"`
		GatewayIPv6   string `json:",omitempty"`
	}
)

// handler serves the protocol.
func (d *driver) handler() http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1.2+json")
		json.NewEncoder(w).Encode(v) //nolint:errcheck // the caller is gone
	}
	handle := func(path string, fn func(ctx context.Context, body []byte) (any, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				reply(w, map[string]string{"Err": err.Error()})
				return
			}
			start := time.Now()
			res, err := fn(r.Context(), body)
			if err != nil {
				d.log.Warn("docker call failed", zap.String("call", path), zap.Error(err), zap.Duration("took", time.Since(start)))
				w.WriteHeader(http.StatusInternalServerError)
				reply(w, map[string]string{"Err": err.Error()})
				return
			}
			d.log.Info("docker call", zap.String("call", path), zap.Duration("took", time.Since(start)))
			if res == nil {
				res = struct{}{}
			}
			reply(w, res)
		})
	}
	empty := func(context.Context, []byte) (any, error) { return nil, nil }
	handle("/Plugin.Activate", func(context.Context, []byte) (any, error) {
		return map[string][]string{"Implements": {"NetworkDriver"}}, nil
	})
	handle("/NetworkDriver.GetCapabilities", func(context.Context, []byte) (any, error) {
		return map[string]string{"Scope": "local", "ConnectivityScope": "global"}, nil
	})
	handle("/NetworkDriver.CreateNetwork", d.createNetwork)
	handle("/NetworkDriver.DeleteNetwork", d.deleteNetwork)
	handle("/NetworkDriver.CreateEndpoint", d.createEndpoint)
	handle("/NetworkDriver.DeleteEndpoint", d.deleteEndpoint)
	handle("/NetworkDriver.EndpointOperInfo", func(context.Context, []byte) (any, error) {
		return map[string]any{"Value": map[string]any{}}, nil
	})
	handle("/NetworkDriver.Join", d.join)
	handle("/NetworkDriver.Leave", empty)
	for _, p := range []string{"/NetworkDriver.DiscoverNew", "/NetworkDriver.DiscoverDelete", "/NetworkDriver.ProgramExternalConnectivity",
		"/NetworkDriver.RevokeExternalConnectivity", "/NetworkDriver.AllocateNetwork", "/NetworkDriver.FreeNetwork"} {
		handle(p, empty)
	}
	return mux
}

// createNetwork takes `docker network create -d loom --opt switch=NAME`:
// loomd keeps the network (a runtime network of this host) if it has the
// switch and the host. Addresses come from loomd: the network is made
// with --ipam-driver null (an IPv4 pool of Docker's is refused, as its
// addresses would not be Loom's).
func (d *driver) createNetwork(ctx context.Context, body []byte) (any, error) {
	var r createNetworkRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}
	opts, _ := r.Options["com.docker.network.generic"].(map[string]any)
	sw, _ := opts["switch"].(string)
	if sw == "" {
		return nil, errors.New("create network: give the Loom switch: --opt switch=NAME")
	}
	for k := range opts {
		if k != "switch" {
			return nil, fmt.Errorf("create network: unknown option %q (loom takes switch)", k)
		}
	}
	for _, p := range r.IPv4Data {
		if p.Pool != "" && p.Pool != "0.0.0.0/0" {
			return nil, fmt.Errorf("create network: Docker's IPv4 pool %s: loomd hands out the switch's addresses; create the network with --ipam-driver null", p.Pool)
		}
	}
	if _, err := d.client.SetRuntimeNetwork(ctx, api.RuntimeNetwork{Runtime: api.RuntimeDocker, ID: r.NetworkID, Switch: sw, Host: d.host}); err != nil {
		return nil, fmt.Errorf("create network: loomd: %w", err)
	}
	d.mu.Lock()
	d.networks[r.NetworkID] = sw
	d.mu.Unlock()
	d.log.Info("network created", zap.String("network", r.NetworkID), zap.String("switch", sw))
	return nil, nil
}

// deleteNetwork forgets the network at loomd (its ports are the
// endpoints', which Docker deletes first).
func (d *driver) deleteNetwork(ctx context.Context, body []byte) (any, error) {
	var r networkRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("delete network: %w", err)
	}
	if _, err := d.client.DeleteRuntimeNetwork(ctx, api.RuntimeDocker, r.NetworkID); err != nil {
		return nil, fmt.Errorf("delete network: loomd: %w", err)
	}
	d.mu.Lock()
	delete(d.networks, r.NetworkID)
	d.mu.Unlock()
	return nil, nil
}

// Per-container choices come as driver options of the endpoint (Docker
// does not tell a driver the container's name): `docker network connect
// --driver-opt ip=10.1.0.7 --driver-opt name=web1 blue web`, or `docker
// run --network name=blue,driver-opt=ip=10.1.0.7`. Docker adds options of
// its own, all named com.docker.*, which the driver leaves alone.
const (
	optIP   = "ip"   // the port's IPv4 address (default: loomd hands one out)
	optIP6  = "ip6"  // the port's IPv6 address (default: loomd hands one out)
	optName = "name" // the port's name at loomd (default: made from the endpoint)
)

// endpointOptions reads the driver options of an endpoint into req.
func endpointOptions(opts map[string]any, req *plumb.Request) error {
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		if strings.HasPrefix(k, "com.docker.") {
			continue
		}
		s, ok := opts[k].(string)
		if !ok {
			return fmt.Errorf("driver option %q: want a string, got %v", k, opts[k])
		}
		switch k {
		case optIP, optIP6:
			a, err := netip.ParseAddr(s)
			if err != nil || a.Is4() != (k == optIP) {
				family := map[bool]string{true: "an IPv4", false: "an IPv6"}[k == optIP]
				return fmt.Errorf("driver option %s=%s: want %s address, without prefix length", k, s, family)
			}
			req.IPs = append(req.IPs, a.String())
		case optName:
			req.Name = s
		default:
			return fmt.Errorf("unknown driver option %q (loom takes %s, %s and %s)", k, optIP, optIP6, optName)
		}
	}
	return nil
}

// createEndpoint makes the endpoint's port at loomd and its veth: the
// host end on the host (loomd puts it on the bridge), the container end
// here under a temporary name, with the port's MAC and MTU, for Join to
// hand to Docker. It answers the port's address and MAC.
func (d *driver) createEndpoint(ctx context.Context, body []byte) (any, error) {
	var r createEndpointRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("create endpoint: %w", err)
	}
	sw, err := d.switchOf(ctx, r.NetworkID)
	if err != nil {
		return nil, fmt.Errorf("create endpoint: %w", err)
	}
	req := d.request(r.EndpointID, sw)
	if r.Interface != nil {
		if r.Interface.Address != "" || r.Interface.AddressIPv6 != "" {
			return nil, errors.New("create endpoint: Docker gave an address: loomd hands them out (create the network with --ipam-driver null; choose one with --driver-opt ip=ADDR)")
		}
		req.MAC = r.Interface.MacAddress
	}
	if err := endpointOptions(r.Options, &req); err != nil {
		return nil, fmt.Errorf("create endpoint: %w", err)
	}
	at, err := plumb.Add(ctx, d.client, req)
	if err != nil {
		return nil, fmt.Errorf("create endpoint: %w", err)
	}
	res := endpointInterface{}
	for _, ip := range at.Port.IPs {
		if strings.Contains(ip, ":") {
			res.AddressIPv6 = ip
		} else if res.Address == "" {
			res.Address = ip
		}
	}
	if r.Interface == nil || r.Interface.MacAddress == "" {
		res.MacAddress = at.Port.MAC
	}
	d.log.Info("endpoint created", zap.String("endpoint", r.EndpointID), zap.String("port", at.Port.Name),
		zap.Strings("ips", at.Port.IPs), zap.Bool("ready", at.Ready))
	return map[string]any{"Interface": res}, nil
}

// deleteEndpoint removes the veth and the port (freeing its address);
// neither being there is no error.
func (d *driver) deleteEndpoint(ctx context.Context, body []byte) (any, error) {
	var r endpointRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("delete endpoint: %w", err)
	}
	req := d.request(r.EndpointID, "")
	if _, err := plumb.Del(ctx, d.client, req); err != nil {
		return nil, fmt.Errorf("delete endpoint: %w", err)
	}
	// The container end, if Docker never moved it.
	plumb.DeleteLocal(req.HandOff) //nolint:errcheck // best effort: gone with the host end as a rule
	return nil, nil
}

// join hands Docker the container end and the switch's gateway.
func (d *driver) join(ctx context.Context, body []byte) (any, error) {
	var r joinRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	p, err := plumb.Find(ctx, d.client, r.EndpointID, endpointIf)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	// Docker addresses the interface once Join answers: a gratuitous ARP
	// then, so that peers that knew the address under another MAC (a
	// container before) learn this one at once.
	go func() {
		if err := plumb.AnnounceWhenUp(r.SandboxKey, *p, 10*time.Second); err != nil {
			d.log.Warn("gratuitous arp", zap.String("endpoint", r.EndpointID), zap.Error(err))
		}
	}()
	res := joinResponse{InterfaceName: &interfaceName{SrcName: d.tempName(r.EndpointID), DstPrefix: "eth"}}
	for _, g := range p.Gateways {
		if strings.Contains(g, ":") {
			res.GatewayIPv6 = g
		} else {
			res.Gateway = g
		}
	}
	return res, nil
}
