package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/plumb"
	"github.com/loom-sdn/loom/topology"
)

// topologyOf is the topology loomd holds.
func topologyOf(st *api.Topology) (*topology.Topology, error) {
	return topology.LoadBytes(api.BytesOf(st.Files))
}

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
	// stateFile keeps the networks (id -> switch) across restarts.
	stateFile string

	mu       sync.Mutex
	networks map[string]network
}

// network is a Docker network of this driver: a Loom switch.
type network struct {
	Switch string `json:"switch"`
}

// load reads the networks from the state file.
func (d *driver) load() error {
	d.networks = map[string]network{}
	b, err := os.ReadFile(d.stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := json.Unmarshal(b, &d.networks); err != nil {
		return fmt.Errorf("state %s: %w", d.stateFile, err)
	}
	return nil
}

// save writes the networks (caller holds d.mu): a temporary file,
// renamed.
func (d *driver) save() error {
	b, err := json.MarshalIndent(d.networks, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(d.stateFile), 0o755); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	tmp := d.stateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp, d.stateFile); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

func (d *driver) switchOf(networkID string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.networks[networkID]
	if !ok {
		return "", fmt.Errorf("network %.12s is not one of this driver's (created before its state was lost?)", networkID)
	}
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
// the switch must exist at loomd. Addresses come from loomd: the network
// is made with --ipam-driver null (an IPv4 pool of Docker's is refused,
// as its addresses would not be Loom's).
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
	st, err := d.client.Topology(ctx)
	if err != nil {
		return nil, fmt.Errorf("create network: loomd: %w", err)
	}
	t, err := topologyOf(st)
	if err != nil {
		return nil, fmt.Errorf("create network: loomd's topology: %w", err)
	}
	if _, ok := t.Switch(sw); !ok {
		return nil, fmt.Errorf("create network: loomd has no switch %q", sw)
	}
	if _, ok := t.Host(d.host); !ok {
		return nil, fmt.Errorf("create network: loomd has no host %q (the driver's --host)", d.host)
	}
	for _, p := range r.IPv4Data {
		if p.Pool != "" && p.Pool != "0.0.0.0/0" {
			return nil, fmt.Errorf("create network: Docker's IPv4 pool %s: loomd hands out the switch's addresses; create the network with --ipam-driver null", p.Pool)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.networks[r.NetworkID] = network{Switch: sw}
	if err := d.save(); err != nil {
		delete(d.networks, r.NetworkID)
		return nil, fmt.Errorf("create network: %w", err)
	}
	d.log.Info("network created", zap.String("network", r.NetworkID), zap.String("switch", sw))
	return nil, nil
}

func (d *driver) deleteNetwork(_ context.Context, body []byte) (any, error) {
	var r networkRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("delete network: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.networks[r.NetworkID]
	if !ok {
		return nil, nil
	}
	delete(d.networks, r.NetworkID)
	if err := d.save(); err != nil {
		d.networks[r.NetworkID] = n
		return nil, fmt.Errorf("delete network: %w", err)
	}
	return nil, nil
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
	sw, err := d.switchOf(r.NetworkID)
	if err != nil {
		return nil, fmt.Errorf("create endpoint: %w", err)
	}
	req := d.request(r.EndpointID, sw)
	if r.Interface != nil {
		if r.Interface.Address != "" || r.Interface.AddressIPv6 != "" {
			return nil, errors.New("create endpoint: Docker gave an address: loomd hands them out (create the network with --ipam-driver null)")
		}
		req.MAC = r.Interface.MacAddress
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
