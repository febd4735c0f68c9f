package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/version"
)

// Version is the API's version; Prefix carries it.
const Version = "v1"

// Prefix is the path every API call starts with.
const Prefix = "/api/" + Version + "/"

// ServerVersion is the answer to GET version: loomd's build and the
// version of the API it serves.
type ServerVersion struct {
	version.Info
	APIVersion string `json:"apiVersion"`
}

// Topology sources.
const (
	SourceAPI   = "api"   // the topology is written through the API (and loomctl)
	SourceFiles = "files" // loomd reads it from files it watches; the API cannot write it
)

// Topology is the topology loomd holds and applies.
type Topology struct {
	// Revision counts the accepted changes; 0 means none was ever stored.
	Revision int64  `json:"revision"`
	Source   string `json:"source"`
	// Path is the watched file or folder (source files).
	Path string `json:"path,omitempty"`
	// Files are the YAML files by name; includes name other keys.
	Files     map[string]string `json:"files"`
	UpdatedAt time.Time         `json:"updatedAt,omitzero"`
	// AutoIPs are the addresses loomd handed out to the ports written
	// with ips: auto, by port name.
	AutoIPs map[string][]string `json:"autoIPs,omitempty"`
	// RuntimePorts are the ports runtimes made (not in the files).
	RuntimePorts []RuntimePort `json:"runtimePorts,omitempty"`
}

// TopologyUpdate replaces the stored topology. Revision is the one the
// change was made from: if another change came first, loomd answers 409
// Conflict with the current revision and stores nothing.
type TopologyUpdate struct {
	Revision int64             `json:"revision"`
	Files    map[string]string `json:"files"`
	// Force removes the runtime ports on switches or hosts the files no
	// longer have; without it such a change is refused, naming them.
	Force bool `json:"force,omitempty"`
}

// Files is a topology to validate or plan.
type Files struct {
	Files map[string]string `json:"files"`
	// Force (plan): plan as a forced PUT would apply, removing the
	// runtime ports on switches or hosts the files no longer have.
	Force bool `json:"force,omitempty"`
	// Flows (plan): list every flow the plan adds, modifies and deletes
	// (HostPlan.FlowsAdd...), not only how many. A new host's plan lists
	// all its flows: 20 MB of JSON for 35,000.
	Flows bool `json:"flows,omitempty"`
}

// Problem is one error or warning in a topology, where it was written.
type Problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Object is the object the problem is in, as messages name it
	// (`port "web1"`), and Field the field, when loomd knows them: for
	// edits, whose users do not see loomd's files.
	Object string `json:"object,omitempty"`
	Field  string `json:"field,omitempty"`
}

// String is the problem as FILE:LINE:COL: message (hint), or, when it
// names its object, as OBJECT, FIELD: message (hint).
func (p Problem) String() string {
	if p.Object != "" {
		s := p.Message
		if !strings.HasPrefix(s, p.Object) {
			at := p.Object
			if p.Field != "" {
				at += ", " + p.Field
			}
			s = at + ": " + s
		}
		if p.Hint != "" {
			s += " (" + p.Hint + ")"
		}
		return s
	}
	e := topology.Error{Pos: topology.Pos{File: p.File, Line: p.Line, Col: p.Col}, Msg: p.Message, Hint: p.Hint}
	return e.Error()
}

// Problems lists the problems of a topology error (a topology.ErrorList),
// or the error itself as one problem without a position.
func Problems(err error) []Problem {
	var l topology.ErrorList
	if !errors.As(err, &l) {
		return []Problem{{Message: err.Error()}}
	}
	out := make([]Problem, len(l))
	for i, e := range l {
		out[i] = Problem{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col, Message: e.Msg, Hint: e.Hint}
	}
	return out
}

// Summary counts a topology's objects.
type Summary struct {
	Hosts    int `json:"hosts"`
	Switches int `json:"switches"`
	Ports    int `json:"ports"`
	ACLs     int `json:"acls"`
	// RuntimePorts are how many of the ports runtimes made.
	RuntimePorts int `json:"runtimePorts,omitempty"`
}

// Summarize counts t's objects.
func Summarize(t *topology.Topology) Summary {
	s := Summary{Hosts: len(t.Hosts), Switches: len(t.Switches), Ports: len(t.Ports), ACLs: len(t.ACLs)}
	for i := range t.Ports {
		if t.Ports[i].Runtime != nil {
			s.RuntimePorts++
		}
	}
	return s
}

// Validation is the answer to validate, and to a successful PUT.
type Validation struct {
	Valid    bool      `json:"valid"`
	Errors   []Problem `json:"errors,omitempty"`
	Warnings []Problem `json:"warnings,omitempty"`
	Summary  Summary   `json:"summary"`
}

// Applied is the answer to a successful PUT of the topology.
type Applied struct {
	Revision int64     `json:"revision"`
	Warnings []Problem `json:"warnings,omitempty"`
	Summary  Summary   `json:"summary"`
	// Unchanged is true when the files were those already stored: the
	// revision did not move.
	Unchanged bool `json:"unchanged,omitempty"`
	// RuntimePortsRemoved are the runtime ports a forced PUT removed
	// (their switch or host is gone).
	RuntimePortsRemoved []string `json:"runtimePortsRemoved,omitempty"`
	// HostsRemoved says, per host the PUT removed, what loomd deletes
	// from it.
	HostsRemoved []string `json:"hostsRemoved,omitempty"`
	// Timings are loomd's steps, in order.
	Timings []Timing `json:"timings,omitempty"`
}

// Plan is what every host would need to match a topology.
type Plan struct {
	// Revision is the stored revision the plan was made against.
	Revision int64      `json:"revision"`
	Hosts    []HostPlan `json:"hosts"`
	Warnings []Problem  `json:"warnings,omitempty"`
	// RuntimePortsRemoved are the runtime ports a forced PUT of the
	// files removes (their switch or host is gone), as "NAME (runtime
	// container interface)".
	RuntimePortsRemoved []string `json:"runtimePortsRemoved,omitempty"`
	// HostsRemoved are the hosts of the topology in force that the
	// planned one drops: what of Loom's will be deleted from each.
	HostsRemoved []HostRemoval `json:"hostsRemoved,omitempty"`
}

// HostRemoval is what of Loom's a host removed from the topology holds,
// which loomd deletes from it (only what Loom owns).
type HostRemoval struct {
	Host   string `json:"host"`
	Bridge string `json:"bridge"`
	// Found is set when the host holds Loom's bridge (false, and no
	// error: nothing of Loom's is left on it).
	Found bool `json:"found"`
	// DeletesBridge: the whole bridge goes (nothing on it is someone
	// else's); otherwise only Loom's ports, controller and flows go.
	DeletesBridge bool     `json:"deletesBridge,omitempty"`
	Ports         []string `json:"ports,omitempty"`
	// Flows is the number of Loom's flows on the bridge (-1: not known).
	Flows   int      `json:"flows"`
	OVSDB   []string `json:"ovsdb,omitempty"`
	Foreign []string `json:"foreign,omitempty"` // left alone
	// Error says why the host could not be read (it is cleaned when it
	// can be).
	Error string `json:"error,omitempty"`
}

// String says what the removal does, in a sentence.
func (h HostRemoval) String() string {
	head := "host " + h.Host + ": removed from the topology; "
	switch {
	case h.Error != "":
		return head + "Loom's bridge " + h.Bridge + ", its ports and flows will be deleted once it can be reached (" + h.Error + ")"
	case !h.Found:
		return head + "nothing of Loom's is on it"
	}
	flows := fmt.Sprintf("%d flows", h.Flows)
	if h.Flows < 0 {
		flows = "its flows"
	}
	if h.DeletesBridge {
		return head + fmt.Sprintf("Loom's bridge %s and its %d ports and %s will be deleted", h.Bridge, len(h.Ports), flows)
	}
	return head + fmt.Sprintf("Loom's %d ports, controller and %s will be deleted from bridge %s, which stays (%s is not Loom's)",
		len(h.Ports), flows, h.Bridge, strings.Join(h.Foreign, ", "))
}

// HostPlan is what one host would need. A flow whose table, priority and
// match stay but whose actions change is in FlowsModify, as the new flow.
// Flows in JSON carry their value and their text (see flows.Flow).
type HostPlan struct {
	Host    string   `json:"host"`
	OVSDB   []string `json:"ovsdb,omitempty"`
	Foreign []string `json:"foreign,omitempty"` // ports on Loom's bridge that Loom leaves alone
	// Adds, Modifies and Deletes count the flows the plan adds, modifies
	// and deletes; FlowsAdd, FlowsModify and FlowsDelete list them when
	// asked for (Files.Flows; always with --direct).
	Adds        int          `json:"adds"`
	Modifies    int          `json:"modifies"`
	Deletes     int          `json:"deletes"`
	FlowsAdd    []flows.Flow `json:"flowsAdd,omitempty"`
	FlowsModify []flows.Flow `json:"flowsModify,omitempty"`
	FlowsDelete []flows.Flow `json:"flowsDelete,omitempty"`
	// FlowsUnknown are flows of Loom's cookie space on the switch that
	// Loom does not read (someone else's): deleted, as the switch printed
	// them.
	FlowsUnknown []string `json:"flowsUnknown,omitempty"`
	FlowMods     int      `json:"flowMods"` // size of the bundle that would apply it
	DesiredFlows int      `json:"desiredFlows"`
	Error        string   `json:"error,omitempty"`
	// PortsDown, after an apply: the ports OVS could not set up.
	PortsDown []PortProblem `json:"portsDown,omitempty"`
	// NotContacted says why loomd did not ask the host (a host of the
	// planned files that is not in the topology in force, or that is at
	// other addresses there): its plan is then that of a new host, a
	// bridge to create with its ports and every flow to add.
	NotContacted string `json:"notContacted,omitempty"`
}

// Changed tells whether the host would change.
func (h HostPlan) Changed() bool {
	return len(h.OVSDB)+h.Adds+h.Modifies+h.Deletes+len(h.FlowsUnknown) > 0
}

// TopologyState says which topology is in force and what became of the
// last attempt to change it.
type TopologyState struct {
	Source   string    `json:"source"`
	Path     string    `json:"path,omitempty"`
	Revision int64     `json:"revision"`
	Loaded   bool      `json:"loaded"`            // a valid topology is in force
	LoadedAt time.Time `json:"loadedAt,omitzero"` // by this loomd process
	// WrittenAt is when the revision was written (through the API) or
	// read (from files).
	WrittenAt time.Time `json:"writtenAt,omitzero"`
	Summary
	// Rejected is why the newest files were not taken (source files), with
	// their problems.
	Rejected string    `json:"rejected,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
}

// Status is the answer to GET status.
type Status struct {
	Topology TopologyState `json:"topology"`
	Hosts    []HostStatus  `json:"hosts"`
}

// Event types of the status watch.
const (
	EventSnapshot = "snapshot" // Status: the whole state, always first
	EventHost     = "host"     // Host: one host's status changed
	EventTopology = "topology" // Topology: the topology changed or was rejected
)

// Event is one line of GET status?watch=true.
type Event struct {
	Type     string         `json:"type"`
	Status   *Status        `json:"status,omitempty"`
	Host     *HostStatus    `json:"host,omitempty"`
	Topology *TopologyState `json:"topology,omitempty"`
}

// HostInterfaces is the answer to GET hosts/{host}/interfaces: what the
// host's OVS last reported of the interfaces of Loom's bridge (from
// loomd's OVSDB cache; nothing is read from the host for it).
type HostInterfaces struct {
	Host string `json:"host"`
	Observed
}

// Flow is a flow of Loom's and the topology object behind it (from its
// cookie). Flow in JSON carries the flow's value and its text (see
// flows.Flow).
type Flow struct {
	Flow flows.Flow `json:"flow"`
	// Unknown is, for a flow Loom does not read (someone else's flow in
	// Loom's cookie space), its text as the switch printed it; Flow then
	// holds only its table and cookie.
	Unknown string `json:"unknown,omitempty"`
	Explain string `json:"explain"`
}

// String is the flow's text.
func (f *Flow) String() string {
	if f.Unknown != "" {
		return f.Unknown
	}
	return f.Flow.String()
}

// HostFlows is the answer to GET hosts/{host}/flows: the switch's flows in
// Loom's cookie space and how they differ from the topology.
type HostFlows struct {
	Host     string `json:"host"`
	Revision int64  `json:"revision"`
	// Status is the host's status when the switch was read (loomd only):
	// whether it is at Revision, and its ports down.
	Status  *HostStatus `json:"status,omitempty"`
	Flows   []Flow      `json:"flows"`
	Desired int         `json:"desired"`
	Missing []Flow      `json:"missing,omitempty"` // in the topology, not on the switch
	Extra   []Flow      `json:"extra,omitempty"`   // on the switch, not in the topology
}

// Drift tells whether the switch differs from the topology.
func (h *HostFlows) Drift() bool { return len(h.Missing)+len(h.Extra) > 0 }

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	Message  string    `json:"error"`
	Problems []Problem `json:"problems,omitempty"`
	// Revision is the current revision, on a 409 Conflict.
	Revision int64 `json:"revision,omitempty"`
	// Code is the HTTP status (not sent).
	Code int `json:"-"`
	// retryAfter is the answer's Retry-After, if any.
	retryAfter time.Duration
}

func (e *Error) Error() string {
	s := e.Message
	for _, p := range e.Problems {
		s += "\n" + p.String()
	}
	return s
}

// IsConflict tells whether err is loomd's answer to a stale revision.
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == http.StatusConflict
}

// IsNotFound tells whether err is a 404 (an unknown host, say).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == http.StatusNotFound
}

// FilesOf returns files as strings, as the API carries them.
func FilesOf(b map[string][]byte) map[string]string {
	out := make(map[string]string, len(b))
	for k, v := range b {
		out[k] = string(v)
	}
	return out
}

// BytesOf is the inverse of FilesOf.
func BytesOf(s map[string]string) map[string][]byte {
	out := make(map[string][]byte, len(s))
	for k, v := range s {
		out[k] = []byte(v)
	}
	return out
}

// Conflictf builds a 409 error.
func Conflictf(current int64, format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...), Revision: current, Code: http.StatusConflict}
}
