package api

import "time"

// Host states (HostStatus.State).
const (
	StatePending     = "pending"     // not reconciled yet
	StateApplying    = "applying"    // a new revision of the topology is being applied
	StateInSync      = "in sync"     // the last reconcile succeeded
	StateDegraded    = "degraded"    // the last reconcile succeeded but some ports are down
	StateUnreachable = "unreachable" // its OVSDB server could not be reached
	StateError       = "error"       // reached, but the reconcile failed
	// StateRemoving: the host left the topology and Loom's bridge, ports
	// and flows are being deleted from it (LastError says why they could
	// not be yet; it is retried with backoff).
	StateRemoving = "removing"
	// StateRemoved is a removed host's last status: cleaned, it leaves
	// the status.
	StateRemoved = "removed"
)

// HostStatus is one host's status as loomd reports it (GET status, the
// status watch, the status file). The controller's Reconciler fills it.
type HostStatus struct {
	Host          string        `json:"host"`
	State         string        `json:"state"`
	LastError     string        `json:"lastError,omitempty"`
	LastReconcile time.Time     `json:"lastReconcile,omitzero"`
	LastDuration  time.Duration `json:"lastDurationNs,omitempty"`
	Flows         int           `json:"flows"`       // desired flows
	Reconciles    int           `json:"reconciles"`  // attempts so far
	Failures      int           `json:"failures"`    // consecutive failures
	Repairs       int           `json:"repairs"`     // reconciles that found drift on a host in sync
	LastChanges   int           `json:"lastChanges"` // OVSDB changes + flow mods of the last reconcile
	NextRetry     time.Time     `json:"nextRetry,omitzero"`
	// Terminal is set when the last error is one that retrying cannot fix
	// (controller.Terminal): the host is tried again only when its desired
	// state or its OVSDB changes, not on a timer.
	Terminal bool `json:"terminal,omitempty"`
	// Revision is the topology revision the host last reached; Desired is
	// the one it is given (equal once it is in sync).
	Revision int64 `json:"revision"`
	Desired  int64 `json:"desiredRevision"`
	// PortsDown lists the ports OVS could not set up (state degraded):
	// the rest of the host works without them.
	PortsDown []PortProblem `json:"portsDown,omitempty"`
}

// AtRevision tells whether a host's status says it holds the revision it
// is given (in sync, or degraded: with ports down).
func (s HostStatus) AtRevision() bool {
	return (s.State == StateInSync || s.State == StateDegraded) && s.Revision == s.Desired
}

// PortProblem is a port of a host that OVS could not set up.
type PortProblem struct {
	// Object is the topology object behind the port: "port/web9",
	// "physnet/phys1" (an uplink), "host/h2" (a tunnel),
	// "endpoint/vtep1".
	Object    string `json:"object"`
	Interface string `json:"interface"`
	// Problem says what is wrong in plain words, and the likely fix.
	Problem string `json:"problem"`
	// OVSError is OVS's own text (Interface.error).
	OVSError string `json:"ovsError,omitempty"`
}

// Observed is what a host's OVS last reported of the interfaces of Loom's
// bridge.
type Observed struct {
	At         time.Time   `json:"at,omitzero"` // zero: never read
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one interface of a port of Loom's bridge, as OVS reports it.
type Interface struct {
	Port       string `json:"port"`
	Name       string `json:"name"`
	Type       string `json:"type,omitempty"` // "" for a system interface (veth, tap, NIC)
	Ofport     int    `json:"ofport"`         // -1: OVS could not open it
	AdminState string `json:"adminState,omitempty"`
	LinkState  string `json:"linkState,omitempty"`
	Error      string `json:"error,omitempty"`
	Loom       bool   `json:"loom"` // the port is Loom's (external_ids:loom-owner)
}
