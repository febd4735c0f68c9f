package ofctl

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// A change's bundle through ovs-ofctl, even one connected ahead (Spare),
// costs the process's parsing and three round trips through
// ovs-vswitchd's main loop (open; the flow mods and a barrier; commit),
// each waiting for its answer. A wire is an OpenFlow 1.3 connection of
// Loom's own, kept open to the switch by the Spare between changes: the
// bundle's messages are encoded from the typed flows (encode.go) and
// written at once (open, the flow mods, a barrier), then the commit:
// two round trips on an open connection, where ovs-ofctl has its
// process, its parsing and three (TestBenchWire measures the
// difference). Plain targets only (tcp:, unix:): an ssl: target's
// bundles, and a bundle with a flow encode.go does not write, go through
// ovs-ofctl as before.

// errWireUnused: the bundle was not sent on the wire (no connection to
// be had, or a target it does not serve); nothing reached the switch.
var errWireUnused = errors.New("own OpenFlow connection not used")

// wireConn is one OpenFlow connection. Its reader answers the switch's
// echo requests (an idle connection is probed every few seconds) and
// hands every other message to the bundle waiting for it.
type wireConn struct {
	target string
	c      net.Conn
	wmu    sync.Mutex // writes
	in     chan wireMsg
	done   chan struct{} // closed when the reader ends
	err    error         // the reader's, once done
	xid    uint32
}

type wireMsg struct {
	typ  uint8
	xid  uint32
	body []byte
}

// wireAddr is the network and address of a plain target.
func wireAddr(target string) (network, addr string, ok bool) {
	switch {
	case strings.HasPrefix(target, "tcp:"):
		return "tcp", strings.TrimPrefix(target, "tcp:"), true
	case strings.HasPrefix(target, "unix:"):
		return "unix", strings.TrimPrefix(target, "unix:"), true
	}
	return "", "", false
}

// dialWireConn connects to target and says hello (OpenFlow 1.3).
func dialWireConn(ctx context.Context, target string) (*wireConn, error) {
	network, addr, ok := wireAddr(target)
	if !ok {
		return nil, errWireUnused
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("openflow %s: %w", target, err)
	}
	w := &wireConn{target: target, c: nc, in: make(chan wireMsg, 64), done: make(chan struct{})}
	hello := appendOFHeader(nil, ofptHelloT, 0)
	setLength(hello, 0)
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl) //nolint:errcheck // a failed deadline shows as a failed read
	}
	if _, err := nc.Write(hello); err != nil {
		nc.Close()
		return nil, fmt.Errorf("openflow %s: hello: %w", target, err)
	}
	typ, _, body, err := readOF(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("openflow %s: hello: %w", target, err)
	}
	if typ != ofptHelloT {
		nc.Close()
		return nil, fmt.Errorf("openflow %s: the switch answered hello with message type %d (%s)", target, typ, ofErrorText(typ, body))
	}
	nc.SetDeadline(time.Time{}) //nolint:errcheck // as above
	go w.read()
	return w, nil
}

// readOF reads one OpenFlow message.
func readOF(r io.Reader) (typ uint8, xid uint32, body []byte, err error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if n < 8 {
		return 0, 0, nil, fmt.Errorf("message of length %d", n)
	}
	body = make([]byte, n-8)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, 0, nil, err
	}
	return h[1], binary.BigEndian.Uint32(h[4:]), body, nil
}

func (w *wireConn) read() {
	defer close(w.done)
	for {
		typ, xid, body, err := readOF(w.c)
		if err != nil {
			w.err = err
			return
		}
		if typ == ofptEchoReqT {
			rep := appendOFHeader(nil, ofptEchoReplyT, xid)
			rep = append(rep, body...)
			setLength(rep, 0)
			w.wmu.Lock()
			_, err := w.c.Write(rep)
			w.wmu.Unlock()
			if err != nil {
				w.err = err
				return
			}
			continue
		}
		select {
		case w.in <- wireMsg{typ, xid, body}:
		default: // nobody waits for it (a late answer): dropped
		}
	}
}

func (w *wireConn) close() { w.c.Close() }

func (w *wireConn) alive() bool {
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

// ofErrorText describes an OpenFlow error message's body.
func ofErrorText(typ uint8, body []byte) string {
	if typ != ofptErrorT || len(body) < 4 {
		return fmt.Sprintf("message type %d", typ)
	}
	return fmt.Sprintf("OpenFlow error type %d code %d", binary.BigEndian.Uint16(body), binary.BigEndian.Uint16(body[2:]))
}

// RefusedError is a bundle the switch refused (nothing of it applied);
// the connection stays good.
type RefusedError struct{ Target, Msg string }

func (e *RefusedError) Error() string {
	return "openflow " + e.Target + ": the switch refused " + e.Msg
}

// wireBundle is a bundle's flow mods, encoded (xids set when sent).
type wireBundle struct {
	msgs [][]byte
}

// encodeBundle encodes the plan: the deletes of its groups, then its
// flows, as encode.go writes them.
func encodeBundle(p *Plan) (*wireBundle, error) {
	wb := &wireBundle{msgs: make([][]byte, 0, len(p.Deletes)+len(p.Adds))}
	for _, g := range p.Deletes {
		wb.msgs = append(wb.msgs, appendFlowDelete(nil, g.Table, g.Cookie, 0))
	}
	for i := range p.Adds {
		m, err := appendFlowAdd(nil, &p.Adds[i], 0)
		if err != nil {
			return nil, err
		}
		if 24+len(m) > 0xffff {
			return nil, &errUnencodable{"flow mod too long for a bundle"}
		}
		wb.msgs = append(wb.msgs, m)
	}
	return wb, nil
}

const bundleFlags = 1 | 2 // atomic, ordered

func (w *wireConn) appendBundleCtrl(b []byte, typ uint16, xid uint32) []byte {
	at := len(b)
	b = appendOFHeader(b, ofptExperimentT, xid)
	b = binary.BigEndian.AppendUint32(b, onfExperimenterT)
	b = binary.BigEndian.AppendUint32(b, onftBundleCtrlT)
	b = binary.BigEndian.AppendUint32(b, 0) // bundle id
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, bundleFlags)
	setLength(b, at)
	return b
}

// send sends the bundle and waits for the commit's answer, in two round
// trips: the open, the flow mods and a barrier written at once; then,
// if the switch took every flow mod, the commit (else a discard). OVS
// checks each flow mod when it is added and leaves a refused one out of
// the bundle while a later commit still commits the rest: the commit
// must wait for the barrier to keep the bundle all or nothing. An
// error after the commit was written leaves the switch's flows unknown
// to the caller (the answer may be lost): the connection is closed then,
// and the next bundle dials anew.
func (w *wireConn) send(ctx context.Context, wb *wireBundle) error {
drain: // answers of an earlier bundle that gave up waiting
	for {
		select {
		case <-w.in:
		default:
			break drain
		}
	}
	first := w.xid + 1
	w.xid++
	b := w.appendBundleCtrl(nil, 0, w.xid) // OPEN_REQUEST
	for _, m := range wb.msgs {
		w.xid++
		at := len(b)
		b = appendOFHeader(b, ofptExperimentT, w.xid)
		b = binary.BigEndian.AppendUint32(b, onfExperimenterT)
		b = binary.BigEndian.AppendUint32(b, onftBundleAddT)
		b = binary.BigEndian.AppendUint32(b, 0) // bundle id
		b = append(b, 0, 0)
		b = binary.BigEndian.AppendUint16(b, bundleFlags)
		inner := len(b)
		b = append(b, m...)
		binary.BigEndian.PutUint32(b[inner+4:], w.xid) // the message's xid is the bundle add's
		setLength(b, at)
	}
	w.xid++
	barrier := w.xid
	b = appendOFHeader(b, ofptBarrierReqT, barrier)
	setLength(b, len(b)-8)
	fail := func(err error) error {
		w.close()
		return fmt.Errorf("openflow %s: %w", w.target, err)
	}
	// trip writes b and waits for the answer of xid last; refused is the
	// first error the switch sent for the messages since from.
	trip := func(b []byte, from, last uint32) (refused error, err error) {
		w.wmu.Lock()
		if dl, ok := ctx.Deadline(); ok {
			w.c.SetWriteDeadline(dl) //nolint:errcheck // a failed deadline shows as a failed write
		}
		_, err = w.c.Write(b)
		w.wmu.Unlock()
		if err != nil {
			return nil, err
		}
		for {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-w.done:
				return nil, fmt.Errorf("connection lost before the bundle's answer: %v", w.err)
			case m := <-w.in:
				if m.xid < from || m.xid > last {
					continue
				}
				if m.typ == ofptErrorT && refused == nil {
					refused = &RefusedError{Target: w.target, Msg: fmt.Sprintf("message %d of the bundle: %s", m.xid-first, ofErrorText(m.typ, m.body))}
				}
				if m.xid == last {
					return refused, nil
				}
			}
		}
	}
	refused, err := trip(b, first, barrier)
	if err != nil {
		return fail(err)
	}
	w.xid++
	end := w.xid
	if refused != nil {
		// Nothing of it applied; the discard's answer is awaited so that
		// the connection is clean for the next bundle.
		if _, err := trip(w.appendBundleCtrl(nil, 6, end), end, end); err != nil { // DISCARD_REQUEST
			w.close()
		}
		return refused
	}
	refused, err = trip(w.appendBundleCtrl(nil, 4, end), end, end) // COMMIT_REQUEST
	if err != nil {
		return fail(err)
	}
	return refused
}

// sendWire sends the plan on the Spare's connection to c's target
// (dialled if need be). errWireUnused: nothing was sent (an ssl: target,
// no connection to be had, a flow encode.go does not write).
func (s *Spare) sendWire(ctx context.Context, target string, p *Plan) error {
	if s == nil || s.noWire || faultHook != nil {
		return errWireUnused
	}
	if _, _, ok := wireAddr(target); !ok {
		return errWireUnused
	}
	wb, err := encodeBundle(p)
	if err != nil {
		return errWireUnused
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	w := s.wire
	if w == nil || w.target != target || !w.alive() {
		if w != nil {
			w.close()
		}
		s.wire = nil
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		w, err = dialWireConn(dctx, target)
		cancel()
		if err != nil {
			return errWireUnused
		}
		s.wire = w
	}
	if err := w.send(ctx, wb); err != nil {
		var r *RefusedError
		if !errors.As(err, &r) {
			s.wire = nil // closed by send
		}
		return err
	}
	return nil
}

// startWire connects the Spare's wire to target ahead of a bundle, in
// the background; false if target is not one it serves.
func (s *Spare) startWire(target string) bool {
	if _, _, ok := wireAddr(target); !ok || s.noWire || faultHook != nil {
		return false
	}
	go func() {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		if s.wire != nil && s.wire.target == target && s.wire.alive() {
			return
		}
		if s.wire != nil {
			s.wire.close()
			s.wire = nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if w, err := dialWireConn(ctx, target); err == nil {
			s.wire = w
		}
	}()
	return true
}

// stopWire closes the Spare's wire.
func (s *Spare) stopWire() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.wire != nil {
		s.wire.close()
		s.wire = nil
	}
}
