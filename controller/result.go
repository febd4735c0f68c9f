package controller

import (
	"errors"
	"time"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/ovsdb"
)

// Path is the way a reconcile brought a host to its desired state.
type Path string

const (
	// PathNone: the host was not reached (no OVSDB connection).
	PathNone Path = ""
	// PathWhole: the whole host was compared with its desired state
	// (reconcileHost).
	PathWhole Path = "whole"
	// PathChange: only the difference from the desired state the worker
	// last brought the host to was sent (change.go).
	PathChange Path = "change"
)

// Result is what one reconcile of a host did. With its error (nil; one
// retrying cannot fix, see Terminal; or one to retry after a backoff) it
// is all the worker's loop goes by for the host's status, metrics, log
// and next try.
type Result struct {
	// Trigger is what woke the worker ("change", "ovsdb", "audit", "retry",
	// ...); "change (delta)" when the change path was taken.
	Trigger string
	Path    Path
	// Revision is the desired revision the reconcile brought the host to,
	// or tried to.
	Revision int64
	// AtRevision tells that the host was at Revision when the reconcile
	// began: anything it changed repaired drift.
	AtRevision   bool
	Start        time.Time
	Took         time.Duration
	DesiredFlows int
	// OVSDBChanges counts the changes made to the host's OVSDB (a bridge,
	// a port, a controller, each a change).
	OVSDBChanges int
	// FlowsPlanned tells that the flows were compared (or their
	// difference computed); the counts below are then the plan's.
	FlowsPlanned bool
	FlowsMissing int
	FlowsStale   int
	FlowMods     int
	// PortsDown are the ports OVS could not set up (the host is then
	// degraded, not in error).
	PortsDown []api.PortProblem
}

// Changes is the number of changes sent: OVSDB changes and flow mods.
func (r Result) Changes() int { return r.OVSDBChanges + r.FlowMods }

// Repaired tells whether the reconcile found and repaired drift: a host
// that was at its revision and needed changes.
func (r Result) Repaired() bool { return r.AtRevision && r.Changes() > 0 }

// resultOf fills r's counts from a host's result.
func (r *Result) count(hr HostResult) {
	r.OVSDBChanges = len(hr.OVSDB)
	r.PortsDown = hr.PortsDown
	if hr.Flows != nil {
		r.FlowsPlanned = true
		r.FlowsMissing, r.FlowsStale, r.FlowMods = len(hr.Flows.Missing), len(hr.Flows.Extra), hr.Flows.FlowMods()
	}
}

// terminalErrs are the errors that retrying the same desired state
// cannot fix: someone must change the host (hand a bridge or a port over
// to Loom, initialise the database) or the topology. Either wakes the
// worker (an OVSDB update, a new desired state), so a host that fails with
// one waits for that instead of retrying on a timer.
var terminalErrs = []error{ovsdb.ErrForeignBridge, ovsdb.ErrForeignPort, ovsdb.ErrInvalidSpec, ovsdb.ErrNotInitialized}

// Terminal tells whether err is one that retrying cannot fix.
func Terminal(err error) bool {
	for _, t := range terminalErrs {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// unreachableError marks an error of a host that did not answer (its
// OVSDB server could not be dialled): the host is unreachable rather than
// in error. It reads as the error it wraps.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// unreachable marks err as a host's that did not answer.
func unreachable(err error) error { return &unreachableError{err} }

// isUnreachable tells whether err says the host did not answer.
func isUnreachable(err error) bool {
	var u *unreachableError
	return errors.As(err, &u)
}

// stateOf is the state of a host after a reconcile that returned res and
// err.
func stateOf(res Result, err error) string {
	switch {
	case err != nil && isUnreachable(err):
		return api.StateUnreachable
	case err != nil:
		return api.StateError
	case len(res.PortsDown) > 0:
		return api.StateDegraded
	}
	return api.StateInSync
}
