package plumb

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Binding by iface-id (Request.OVSDB set): the plugin puts the veth's
// host end on the host's integration bridge itself, with
// external_ids:iface-id, as OVN-style runtimes do, and asks loomd for a
// port bound by that iface-id; loomd adopts the interface (sets its
// ofport_request) and never adds or deletes it. The plugin made the OVS
// port, so Del (and an Add that fails) removes it.

// IfaceIDFor is the iface-id of a workload's interface: the same inputs
// give the same id, so a retried Add asks loomd for the same port.
func IfaceIDFor(containerID, ifName string) string {
	return "loom-" + HostVethName(containerID, ifName)
}

// DefaultBridge is the integration bridge's name when Request.Bridge is
// empty.
const DefaultBridge = "br-int"

func (r *Request) bridge() string {
	if r.Bridge == "" {
		return DefaultBridge
	}
	return r.Bridge
}

// vsctl runs ovs-vsctl on the host's OVSDB (r.OVSDB) with a bound.
func (r *Request) vsctl(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ovs-vsctl", append([]string{"--db=" + r.OVSDB, "--timeout=10"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ovs-vsctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// plug puts the host end hv on the bridge with the iface-id (idempotent:
// a retried Add finds it there and sets the id again).
func (r *Request) plug(ctx context.Context, hv string) error {
	return r.vsctl(ctx, "--may-exist", "add-port", r.bridge(), hv, "--",
		"set", "Interface", hv, "external_ids:iface-id="+IfaceIDFor(r.ContainerID, r.IfName))
}

// unplug removes the OVS port of hv, if there is one.
func (r *Request) unplug(ctx context.Context, hv string) error {
	return r.vsctl(ctx, "--if-exists", "del-port", r.bridge(), hv)
}
