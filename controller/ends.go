package controller

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/ovsdb"
)

// A worker's ends on its host are what it needs of its OVSDB connection
// (hostDB) and of the switch's OpenFlow listener (flowSwitch), and the
// clock of its retries. The real ones (*ovsdb.Client, *ofctl.Client,
// time.After) are the default; the worker's unit tests stand fakes in
// for them (worker_test.go). The change path (change.go) and the flow
// monitor (flowwatch.go) need the real OpenFlow client (an ovs-ofctl kept
// connected ahead, a long-lived monitor process): they are tested on real
// OVS.

// hostDB is what a worker needs of its OVSDB connection to a host.
type hostDB interface {
	reconcileDB
	// PlanChange plans the change of the bridge's ports from one spec to
	// another (the change path).
	PlanChange(ctx context.Context, from, to ovsdb.BridgeSpec) (*ovsdb.Plan, error)
	// Check reads the cache once: the plan for spec, the ports of want
	// not numbered yet, those OVS gave up on, and the bridge's interfaces.
	Check(ctx context.Context, spec ovsdb.BridgeSpec, want map[string]int) (*ovsdb.Plan, []string, []*ovsdb.InterfaceError, []ovsdb.InterfaceState, error)
	RecreatePorts(ctx context.Context, spec ovsdb.BridgeSpec, names []string) ([]*ovsdb.InterfaceError, error)
	Interfaces(ctx context.Context, bridge string) ([]ovsdb.InterfaceState, error)
	Ping(ctx context.Context) error
	// Watch and WatchRecreated register the callbacks of the cache's
	// updates; Done is closed when the connection is lost.
	Watch(fn func())
	WatchRecreated(fn func(iface string))
	Done() <-chan struct{}
	Close()
}

// reconcileDB is what a whole reconcile (reconcileHost) needs of an OVSDB
// connection.
type reconcileDB interface {
	Plan(ctx context.Context, spec ovsdb.BridgeSpec) (*ovsdb.Plan, error)
	WaitApplied(ctx context.Context) error
	Apply(ctx context.Context, p *ovsdb.Plan) error
	WaitPorts(ctx context.Context, bridge string, want map[string]int) ([]*ovsdb.InterfaceError, error)
}

// flowSwitch is what a reconcile and the probe need of a switch's
// OpenFlow listener.
type flowSwitch interface {
	Dump(ctx context.Context) (*ofctl.Observed, error)
	WaitReady(ctx context.Context) error
	Sync(ctx context.Context, desired []flows.Flow, known *ofctl.Known) (*ofctl.Plan, error)
	FlowCount(ctx context.Context) (int, error)
}

// hostEnds makes a worker's ends.
type hostEnds struct {
	// dial connects to hs's OVSDB server; an error of a server that did
	// not answer is marked unreachable (see unreachable).
	dial func(ctx context.Context, hs *flows.HostState, log *zap.Logger) (hostDB, error)
	// openFlow is the client of a switch's OpenFlow listener.
	openFlow func(target string) flowSwitch
	// after is the clock of the retries (time.After).
	after func(d time.Duration) <-chan time.Time
}

// realEnds are the ends of a Reconciler with t's TLS files.
func realEnds(t TLS) hostEnds {
	return hostEnds{
		dial: func(ctx context.Context, hs *flows.HostState, log *zap.Logger) (hostDB, error) {
			opts, err := t.dialOptions(hs) // files read anew: renewals are picked up
			if err != nil {
				return nil, err
			}
			db, err := ovsdb.Dial(ctx, hs.OVSDB, log, opts...)
			if err != nil {
				return nil, dialError(err)
			}
			return db, nil
		},
		openFlow: func(target string) flowSwitch { return t.OpenFlow(target) },
		after:    time.After,
	}
}
