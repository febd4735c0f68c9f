package ovsdb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/zapr"
	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/loom-sdn/loom/ovsdb/vswitchd"
)

// Ownership marker that Loom puts in the external_ids of every row it
// creates, and looks for before it updates or deletes one.
const (
	OwnerKey   = "loom-owner"
	OwnerValue = "loom"
)

// DefaultDialTimeout bounds Dial when its context has no deadline.
const DefaultDialTimeout = 10 * time.Second

// Sentinel errors, for callers to test with errors.Is.
var (
	// ErrForeignBridge: a bridge of the requested name exists and is not
	// marked as Loom's. Loom refuses to take it over.
	ErrForeignBridge = errors.New("bridge exists and is not owned by loom")
	// ErrForeignPort: a port or interface of a name the spec wants exists
	// and is not Loom's, or belongs to another bridge.
	ErrForeignPort = errors.New("port exists and is not loom's to change")
	// ErrInvalidSpec: the BridgeSpec cannot be applied as written.
	ErrInvalidSpec = errors.New("invalid bridge spec")
	// ErrStale: the database changed between Plan and Apply; nothing was
	// written. Plan again.
	ErrStale = errors.New("database changed since the plan was made")
	// ErrNotInitialized: the database has no Open_vSwitch row
	// (`ovs-vsctl init` was never run).
	ErrNotInitialized = errors.New("database has no Open_vSwitch row")
)

// Client is a connection to one host's Open_vSwitch database with a cache of
// the tables Loom reads. It is safe for concurrent use.
type Client struct {
	addr string
	log  *zap.Logger
	ovs  client.Client

	mu      sync.Mutex
	changed chan struct{} // closed at the next change of the cache
}

// DialOption changes how Dial connects.
type DialOption func(*dialOptions)

type dialOptions struct {
	tls *tls.Config
}

// WithTLS is the TLS configuration for "ssl:" addresses (see [LoadTLS]);
// other addresses ignore it.
func WithTLS(cfg *tls.Config) DialOption {
	return func(o *dialOptions) { o.tls = cfg }
}

// Dial connects to the OVSDB server at addr ("unix:PATH", "tcp:IP:PORT" or,
// with [WithTLS], "ssl:IP:PORT", as in ovsdb(7)), and waits until the cache
// holds the Open_vSwitch, Bridge, Port, Interface and Controller tables. The
// context bounds the whole dial, TLS handshake included; without a
// deadline, DefaultDialTimeout applies. log may be nil.
func Dial(ctx context.Context, addr string, log *zap.Logger, opts ...DialOption) (*Client, error) {
	if log == nil {
		log = zap.NewNop()
	}
	var o dialOptions
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case strings.HasPrefix(addr, "unix:"), strings.HasPrefix(addr, "tcp:"):
	case strings.HasPrefix(addr, "ssl:"):
		if o.tls == nil {
			return nil, fmt.Errorf("ovsdb %s: dial: an ssl: address needs a private key, a certificate and a CA certificate", addr)
		}
	default:
		return nil, fmt.Errorf("ovsdb %s: dial: address must be unix:PATH, tcp:IP:PORT or ssl:IP:PORT", addr)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultDialTimeout)
		defer cancel()
	}

	dbModel, err := clientModel()
	if err != nil {
		return nil, fmt.Errorf("ovsdb %s: dial: %w", addr, err)
	}
	lr := zapr.NewLogger(libovsdbLogger(log))
	copts := []client.Option{client.WithEndpoint(addr), client.WithLogger(&lr)}
	if strings.HasPrefix(addr, "ssl:") {
		copts = append(copts, client.WithTLSConfig(o.tls))
	}
	ovs, err := client.NewOVSDBClient(dbModel, copts...)
	if err != nil {
		return nil, fmt.Errorf("ovsdb %s: dial: %w", addr, err)
	}
	if err := ovs.Connect(ctx); err != nil {
		if o.tls != nil && strings.HasPrefix(addr, "ssl:") {
			if why := tlsRefusal(ctx, strings.TrimPrefix(addr, "ssl:"), o.tls); why != nil {
				return nil, fmt.Errorf("ovsdb %s: dial: the server refused the TLS session: %w", addr, why)
			}
		}
		return nil, fmt.Errorf("ovsdb %s: dial: %w", addr, err)
	}
	c := &Client{addr: addr, log: log, ovs: ovs, changed: make(chan struct{})}
	// Waits for ovs-vswitchd (ofports, cur_cfg) wake on the cache's
	// updates, not on a timer.
	c.Watch(c.notify)
	if _, err := ovs.Monitor(ctx, newMonitor(ovs)); err != nil {
		ovs.Close()
		return nil, fmt.Errorf("ovsdb %s: dial: monitor: %w", addr, err)
	}
	log.Debug("ovsdb connected", zap.String("addr", addr))
	return c, nil
}

// notify wakes whoever waits on the cache (changes).
func (c *Client) notify() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// changes is closed at the next change of the cache: read the cache after
// taking it, wait on it, and read again.
func (c *Client) changes() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Close ends the connection. The Client cannot be used afterwards.
func (c *Client) Close() {
	c.ovs.Close()
}

// Addr is the address the client dialled.
func (c *Client) Addr() string { return c.addr }

// clientModel is the part of the Open_vSwitch schema the package uses.
func clientModel() (model.ClientDBModel, error) {
	return model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		vswitchd.OpenvSwitchTable: &vswitchd.OpenvSwitch{},
		vswitchd.BridgeTable:      &vswitchd.Bridge{},
		vswitchd.PortTable:        &vswitchd.Port{},
		vswitchd.InterfaceTable:   &vswitchd.Interface{},
		vswitchd.ControllerTable:  &vswitchd.Controller{},
	})
}

// newMonitor asks for the columns the package reads, and no others: the
// statistics and status columns change every few seconds on a busy switch
// (an interface's link and admin state change only with the link, and are
// shown by loomctl show; its ifindex only when its device is made anew,
// see WatchRecreated). Only monitored columns are filled in cached rows.
func newMonitor(ovs client.Client) *client.Monitor {
	root := &vswitchd.OpenvSwitch{}
	br := &vswitchd.Bridge{}
	port := &vswitchd.Port{}
	iface := &vswitchd.Interface{}
	ctl := &vswitchd.Controller{}
	return ovs.NewMonitor(
		client.WithTable(root, &root.Bridges, &root.NextCfg, &root.CurCfg, &root.OVSVersion),
		client.WithTable(br, &br.Name, &br.DatapathType, &br.FailMode,
			&br.Protocols, &br.Controller, &br.Ports, &br.ExternalIDs),
		client.WithTable(port, &port.Name, &port.Interfaces, &port.ExternalIDs),
		client.WithTable(iface, &iface.Name, &iface.Type, &iface.Options,
			&iface.OfportRequest, &iface.Ofport, &iface.Error, &iface.ExternalIDs,
			&iface.LinkState, &iface.AdminState, &iface.Ifindex),
		client.WithTable(ctl, &ctl.Target, &ctl.ExternalIDs),
	)
}

// libovsdbLogger is log, named, and no chattier than Info: libovsdb logs
// every cache row at high verbosity (zapr maps logr's V(n) to zap level -n).
func libovsdbLogger(log *zap.Logger) *zap.Logger {
	l := log.Named("libovsdb")
	// IncreaseLevel complains when asked to enable a level the core does
	// not: only raise, never lower.
	if l.Core().Enabled(zapcore.InfoLevel) {
		l = l.WithOptions(zap.IncreaseLevel(zapcore.InfoLevel))
	}
	return l
}

// Watch calls fn after every change to the cached rows, whoever made it
// (Loom's own transactions included). fn runs on libovsdb's event loop: it
// must not block.
func (c *Client) Watch(fn func()) {
	c.ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { fn() },
		UpdateFunc: func(string, model.Model, model.Model) { fn() },
		DeleteFunc: func(string, model.Model) { fn() },
	})
}

// Done is closed when the connection to the server is lost. The client does
// not reconnect: dial again (a new client starts from a full copy of the
// database, so nothing missed during the outage is lost).
func (c *Client) Done() <-chan struct{} { return c.ovs.DisconnectNotify() }

// Ping checks the connection with an echo round trip, bounded by ctx: a
// server that stopped answering without closing the connection is noticed.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.sync(ctx); err != nil {
		return fmt.Errorf("ovsdb %s: %w", c.addr, err)
	}
	return nil
}
