package flows

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/loom-sdn/loom/topology"
)

// Port is a port of a host's integration bridge: a Loom-owned one, or
// (IfaceID set) an interface Loom binds by its external_ids:iface-id.
type Port struct {
	Name        string // for a port bound by iface-id, AdoptedName(IfaceID)
	Type        string // "" for a system interface (veth, NIC), or "gre", "vxlan", "geneve"
	Options     map[string]string
	Ofport      int
	ExternalIDs map[string]string
	// IfaceID, when set, says that the port is whatever interface of the
	// bridge has external_ids:iface-id=IfaceID: someone else (a runtime,
	// the operator) makes its Port and Interface rows; Loom adopts it by
	// setting its ofport_request to Ofport (the flows name Ofport, as for
	// Loom's own ports), and never creates or deletes it.
	IfaceID string
}

// AdoptedName is the Name of a Port bound by iface-id: a key, not an
// OVS name (no interface name Loom takes has a ':').
func AdoptedName(ifaceID string) string { return "iface-id:" + ifaceID }

// HostState is what one host must hold: its bridge, ports and flows.
// A HostState is not modified once the compiler returns it; a host whose
// state does not change from one compilation to the next keeps the same
// *HostState.
type HostState struct {
	Host         string
	OVSDB        string // how to reach the host's ovsdb-server
	OpenFlow     string // how to reach the bridge's OpenFlow listener
	Bridge       string
	DatapathType string
	// ControllerTarget is the passive listener the bridge opens, derived
	// from OpenFlow: "tcp:IP:PORT" -> "ptcp:PORT:IP".
	ControllerTarget string
	Ports            []Port // sorted by name

	// TLS is the certificate the host must present on ssl: addresses.
	TLS topology.CertPin

	// flows are the host's flows as the parts they are made of (parts.go),
	// put together the first time Flows asks for them.
	flows *hostFlows
}

// Flows are the host's flows, sorted by Compare (table, priority high
// first, match), no two with the same identity. The first call puts them
// together from the parts the host shares with others (a merge, about a
// millisecond for 10,000 flows); later calls return the same slice, which
// must not be modified.
func (h *HostState) Flows() []Flow {
	if h.flows == nil {
		return nil
	}
	return h.flows.get()
}

// NumFlows is len(h.Flows()), without putting the flows together.
func (h *HostState) NumFlows() int {
	if h.flows == nil {
		return 0
	}
	return h.flows.n
}

// WithFlows returns a copy of h whose flows are fs (sorted by Compare, no
// two of one identity): for tests and tools that make states by hand.
func (h HostState) WithFlows(fs []Flow) *HostState {
	p := &part{flows: fs}
	h.flows = &hostFlows{parts: []*part{p}, n: len(fs)}
	return &h
}

// ExtIDObject is the external id Loom writes on its ports' OVSDB rows to
// name the object they come from, e.g. "port/web1", "host/h2".
const ExtIDObject = "loom-object"

// parallel runs fn(0..n-1) on one goroutine per core and returns each
// call's error at its index. A panic in fn is an error of its index
// (panicked names what was compiled), not the end of the process.
func parallel(n int, panicked func(i int, r any) error, fn func(i int) error) []error {
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				errs[i] = recovering(i, panicked, fn)
			}
		}()
	}
	wg.Wait()
	return errs
}

func recovering(i int, panicked func(i int, r any) error, fn func(i int) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicked(i, r)
		}
	}()
	return fn(i)
}

// each runs fn(0..n-1) in parallel and returns the errors of the calls
// that failed as a topology.ErrorList, each at the position of what it
// compiled (named by what), sorted so that it does not depend on the
// schedule. A panic in fn is an error of what it compiled.
func each(n int, what func(i int) (string, topology.Pos), fn func(i int) error) error {
	errs := parallel(n, func(i int, r any) error {
		name, _ := what(i)
		return internalError(name, r)
	}, fn)
	var all topology.ErrorList
	for i, err := range errs {
		if err != nil {
			_, pos := what(i)
			all = append(all, positioned(pos, err)...)
		}
	}
	return errorList(all)
}

// errorList is the errors of the objects that failed, with positions,
// sorted (so that they do not depend on the schedule) and cut at
// topology.MaxErrors.
func errorList(all topology.ErrorList) error {
	if len(all) == 0 {
		return nil
	}
	all.Err() // sorts
	if more := len(all) - topology.MaxErrors; more > 0 {
		all = append(all[:topology.MaxErrors:topology.MaxErrors], &topology.Error{Msg: fmt.Sprintf("%d more errors not listed (only the first %d are)", more, topology.MaxErrors), Omitted: more})
	}
	return all
}

// internalError is a panic of the compiler as an error naming what it
// compiled: a bug of the compiler must cost one request, not loomd.
func internalError(what string, r any) error {
	return fmt.Errorf("internal error compiling %s: %v; please report it with the topology", what, r)
}

// positioned is err as a list of problems with positions: a
// topology.ErrorList as it is, anything else at pos.
func positioned(pos topology.Pos, err error) topology.ErrorList {
	var l topology.ErrorList
	if errors.As(err, &l) {
		return l
	}
	return topology.ErrorList{{Pos: pos, Msg: err.Error()}}
}

var tunnelPrefix = map[string]string{"gre": "gre-", "vxlan": "vxl-", "geneve": "gnv-"}

// TunnelPortName is the name of the tunnel of an encapsulation to host h.
func TunnelPortName(encap string, h topology.Host) string {
	if n := tunnelPrefix[encap] + h.Name; len(n) <= 15 {
		return n
	}
	return fmt.Sprintf("%s%d", tunnelPrefix[encap], h.Key)
}

// EndpointPortName is the name of the tunnel to an external endpoint.
func EndpointPortName(e topology.ExternalEndpoint) string {
	if n := "ep-" + e.Name; len(n) <= 15 {
		return n
	}
	return fmt.Sprintf("ep-%d", e.ID)
}

// FlowText renders the host's flows in ovs-ofctl syntax, one per line, in
// order: the input of `ovs-ofctl add-flows`.
func (h *HostState) FlowText() []byte {
	fs := h.Flows()
	return AppendFlows(make([]byte, 0, 200*len(fs)), fs)
}
