//go:build bench

package ofctl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/flows"
)

// TestBenchWire asks where a small bundle's time goes (issue 13): in
// ovs-ofctl (its process, its handshake, its parsing) or in
// ovs-vswitchd's main loop. It sends the same bundle, 13 flow mods (what
// one port added costs a host), to a private ovs-vswitchd whose bridge
// has LOOM_WIRE_PORTS (default 670, a lab host's share of 2,000) veth
// ports, five ways, alternating, LOOM_WIRE_ROUNDS (30) rounds:
//
//   - ofctl new: ovs-ofctl --bundle add-flows, a new process;
//   - ofctl spare: the same process started 150 ms ahead (connected and
//     waiting for its flows, as loomd's ofctl.Spare);
//   - go 3 trips: a minimal OpenFlow 1.3 client of this file on a
//     connection open ahead, sending the bundle as ovs-ofctl does (open;
//     the adds and a barrier; commit; each waits for its reply);
//   - loom wire: Loom's own sender (wire.go) on a connection open ahead
//     (the open, the adds and a barrier at once; then the commit);
//   - go pipelined: the minimal client, open, adds and commit written at
//     once, one wait for the commit's reply (a floor: not all or
//     nothing, OVS commits what it took of a bundle).
//
// After each add, the bundle's 13 flows are deleted (by cookie, not
// timed). A positive control first: the Go client's bundle yields the 13
// flows in ovs-ofctl's dump.
func TestBenchWire(t *testing.T) {
	ports := envInt(t, "LOOM_WIRE_PORTS", 670)
	rounds := envInt(t, "LOOM_WIRE_ROUNDS", 30)
	r := newMonitorRig(t)
	if ports > 0 {
		var links, vsctl strings.Builder
		vsctl.WriteString("--")
		for i := range ports {
			fmt.Fprintf(&links, "link add lmw%d type veth peer name lmx%d\nlink set lmw%d up\nlink set lmx%d up\n", i, i, i, i)
			fmt.Fprintf(&vsctl, " add-port lmm-br lmw%d --", i)
		}
		f := t.TempDir() + "/links"
		if err := os.WriteFile(f, []byte(links.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		r.s.InVswitchd(t, "ip", "-batch", f)
		r.s.Vsctl(t, strings.Fields(strings.TrimSuffix(vsctl.String(), " --"))...)
		// Until ovs-vswitchd has them all.
		deadline := time.Now().Add(60 * time.Second)
		for {
			out := r.ofctl("show", r.target)
			if strings.Count(out, "(lmw") >= ports {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ovs-vswitchd has not all %d ports after 60 s", ports)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	const n = 13
	cookie := uint64(0x7700000000000000)
	var text strings.Builder
	for i := range n {
		fmt.Fprintf(&text, "table=%d,priority=100,cookie=0x%x,in_port=%d,dl_dst=02:00:00:00:00:%02x,actions=output:%d\n", i%4, cookie+uint64(i), i+1, i, i+2)
	}
	fms := make([][]byte, n)
	for i := range n {
		fms[i] = flowModAdd(uint8(i%4), cookie+uint64(i), 100, uint32(i+1), [6]byte{2, 0, 0, 0, 0, byte(i)}, uint32(i+2))
	}
	dels := make([][]byte, n)
	for i := range n {
		dels[i] = flowModDelete(uint8(i%4), cookie+uint64(i))
	}
	sock := strings.TrimPrefix(r.target, "unix:")
	c, err := dialBench(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	count := func() int {
		return strings.Count(r.ofctl("dump-flows", r.target, fmt.Sprintf("cookie=0x%x/0xff00000000000000", cookie)), "cookie=")
	}
	if err := c.bundle(fms, true); err != nil {
		t.Fatalf("go bundle: %v", err)
	}
	if got := count(); got != n {
		t.Fatalf("after the Go client's bundle: %d flows of the bundle's cookies, want %d\n%s", got, n, r.ofctl("dump-flows", r.target))
	}
	if err := c.bundle(dels, true); err != nil {
		t.Fatalf("go delete bundle: %v", err)
	}
	if got := count(); got != 0 {
		t.Fatalf("after the Go client's delete bundle: %d flows left", got)
	}

	// The same flows, typed, for Loom's own sender (wire.go: the open,
	// the adds and a barrier at once, then the commit).
	var typed []flows.Flow
	for i := range n {
		typed = append(typed, flows.Flow{Table: uint8(i % 4), Priority: 100, Cookie: cookie + uint64(i),
			Match:   flows.Match{flows.Exact(flows.FieldInPort, uint64(i+1)), flows.MatchMAC(flows.FieldEthDst, net.HardwareAddr{2, 0, 0, 0, 0, byte(i)})},
			Actions: flows.Actions{flows.Output(uint32(i + 2))}})
	}
	var sp Spare
	defer sp.Stop()
	ofctlArgs := []string{"--no-names", "-O", "OpenFlow13", "--bundle", "add-flows", r.target, "-"}
	start := func() (*exec.Cmd, io.WriteCloser, *bytes.Buffer) {
		cmd := exec.Command("ovs-ofctl", ofctlArgs...)
		cmd.Env = r.s.Env()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, in, &out
	}
	feed := func(cmd *exec.Cmd, in io.WriteCloser, out *bytes.Buffer) {
		io.WriteString(in, text.String()) //nolint:errcheck // Wait says
		in.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("ovs-ofctl: %v\n%s", err, out)
		}
	}
	ways := []struct {
		name string
		add  func() time.Duration
	}{
		{"ofctl new", func() time.Duration {
			t0 := time.Now()
			feed(start())
			return time.Since(t0)
		}},
		{"ofctl spare", func() time.Duration {
			cmd, in, out := start()
			time.Sleep(150 * time.Millisecond)
			t0 := time.Now()
			feed(cmd, in, out)
			return time.Since(t0)
		}},
		{"go 3 trips", func() time.Duration {
			t0 := time.Now()
			if err := c.bundle(fms, false); err != nil {
				t.Fatal(err)
			}
			return time.Since(t0)
		}},
		{"loom wire", func() time.Duration {
			t0 := time.Now()
			if err := sp.sendWire(t.Context(), r.target, &Plan{Adds: typed}); err != nil {
				t.Fatal(err)
			}
			return time.Since(t0)
		}},
		{"go pipelined", func() time.Duration {
			t0 := time.Now()
			if err := c.bundle(fms, true); err != nil {
				t.Fatal(err)
			}
			return time.Since(t0)
		}},
	}
	took := make([][]time.Duration, len(ways))
	for range rounds {
		for i, w := range ways {
			took[i] = append(took[i], w.add())
			if err := c.bundle(dels, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for i, w := range ways {
		d := took[i]
		slices.Sort(d)
		t.Logf("BENCH wire: %-12s bundle of %d flow mods, %d ports: median %.2f ms (min %.2f, p90 %.2f, max %.2f; n=%d)",
			w.name, n, ports, ms(d[len(d)/2]), ms(d[0]), ms(d[len(d)*9/10]), ms(d[len(d)-1]), len(d))
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		t.Fatalf("%s: want a number, got %q", name, s)
	}
	return v
}

// OpenFlow 1.3 and ONF's bundle extension (EXT-230), as much as the
// bench needs.
const (
	ofVersion        = 4
	ofptHello        = 0
	ofptError        = 1
	ofptEchoRequest  = 2
	ofptEchoReply    = 3
	ofptExperimenter = 4
	ofptFlowMod      = 14
	ofptBarrierReq   = 20
	ofptBarrierReply = 21
	onfExperimenter  = 0x4F4E4600
	onftBundleCtrl   = 2300
	onftBundleAdd    = 2301
	bundleOpen       = 0
	bundleCommit     = 4
	bundleAtomic     = 1
	bundleOrdered    = 2
)

type benchConn struct {
	c   net.Conn
	xid uint32
	buf []byte
}

func dialBench(sock string) (*benchConn, error) {
	nc, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	c := &benchConn{c: nc}
	if _, err := nc.Write(header(nil, ofptHello, 8, 0)); err != nil {
		return nil, err
	}
	typ, _, _, err := c.read()
	if err != nil {
		return nil, err
	}
	if typ != ofptHello {
		return nil, fmt.Errorf("first message type %d, want hello", typ)
	}
	return c, nil
}

func (c *benchConn) close() { c.c.Close() }

func header(b []byte, typ uint8, length int, xid uint32) []byte {
	b = append(b, ofVersion, typ, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(b[len(b)-6:], uint16(length))
	binary.BigEndian.PutUint32(b[len(b)-4:], xid)
	return b
}

// read returns the next message but echo requests (answered).
func (c *benchConn) read() (typ uint8, xid uint32, body []byte, err error) {
	for {
		var h [8]byte
		if _, err := io.ReadFull(c.c, h[:]); err != nil {
			return 0, 0, nil, err
		}
		n := int(binary.BigEndian.Uint16(h[2:]))
		if n < 8 {
			return 0, 0, nil, fmt.Errorf("message length %d", n)
		}
		body := make([]byte, n-8)
		if _, err := io.ReadFull(c.c, body); err != nil {
			return 0, 0, nil, err
		}
		xid := binary.BigEndian.Uint32(h[4:])
		if h[1] == ofptEchoRequest {
			rep := append(header(nil, ofptEchoReply, n, xid), body...)
			if _, err := c.c.Write(rep); err != nil {
				return 0, 0, nil, err
			}
			continue
		}
		return h[1], xid, body, nil
	}
}

func (c *benchConn) next() uint32 { c.xid++; return c.xid }

func (c *benchConn) bundleCtrl(b []byte, typ uint16) ([]byte, uint32) {
	xid := c.next()
	b = header(b, ofptExperimenter, 24, xid)
	b = binary.BigEndian.AppendUint32(b, onfExperimenter)
	b = binary.BigEndian.AppendUint32(b, onftBundleCtrl)
	b = binary.BigEndian.AppendUint32(b, 1) // bundle id
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, bundleAtomic|bundleOrdered)
	return b, xid
}

func (c *benchConn) bundleAdd(b []byte, msg []byte) []byte {
	xid := c.next()
	b = header(b, ofptExperimenter, 8+16+len(msg), xid)
	b = binary.BigEndian.AppendUint32(b, onfExperimenter)
	b = binary.BigEndian.AppendUint32(b, onftBundleAdd)
	b = binary.BigEndian.AppendUint32(b, 1) // bundle id
	b = append(b, 0, 0)                     // pad
	b = binary.BigEndian.AppendUint16(b, bundleAtomic|bundleOrdered)
	m := len(b)
	b = append(b, msg...)
	binary.BigEndian.PutUint32(b[m+4:], xid) // the inner xid is the outer's
	return b
}

// wait reads until the reply of xid; an error message for any of the
// bundle's xids fails it.
func (c *benchConn) wait(xid uint32) error {
	for {
		typ, got, body, err := c.read()
		if err != nil {
			return err
		}
		if typ == ofptError {
			return fmt.Errorf("switch error for xid %d: type %d code %d", got, binary.BigEndian.Uint16(body), binary.BigEndian.Uint16(body[2:]))
		}
		if got == xid {
			return nil
		}
	}
}

// bundle sends fms as one atomic bundle: pipelined (one write, one wait)
// or as ovs-ofctl does (three waits).
func (c *benchConn) bundle(fms [][]byte, pipelined bool) error {
	b := c.buf[:0]
	b, open := c.bundleCtrl(b, bundleOpen)
	if !pipelined {
		if _, err := c.c.Write(b); err != nil {
			return err
		}
		if err := c.wait(open); err != nil {
			return err
		}
		b = b[:0]
	}
	for _, fm := range fms {
		b = c.bundleAdd(b, fm)
	}
	if !pipelined {
		bx := c.next()
		b = header(b, ofptBarrierReq, 8, bx)
		if _, err := c.c.Write(b); err != nil {
			return err
		}
		if err := c.wait(bx); err != nil {
			return err
		}
		b = b[:0]
	}
	b, commit := c.bundleCtrl(b, bundleCommit)
	c.buf = b
	if _, err := c.c.Write(b); err != nil {
		return err
	}
	return c.wait(commit)
}

// flowModAdd is an OFPFC_ADD of in_port=inPort,eth_dst=dst,
// actions=output:out.
func flowModAdd(table uint8, cookie uint64, prio uint16, inPort uint32, dst [6]byte, out uint32) []byte {
	var match []byte
	match = binary.BigEndian.AppendUint32(match, 0x80000004) // OXM in_port
	match = binary.BigEndian.AppendUint32(match, inPort)
	match = binary.BigEndian.AppendUint32(match, 0x80000606) // OXM eth_dst
	match = append(match, dst[:]...)
	var acts []byte
	acts = binary.BigEndian.AppendUint16(acts, 0) // OFPAT_OUTPUT
	acts = binary.BigEndian.AppendUint16(acts, 16)
	acts = binary.BigEndian.AppendUint32(acts, out)
	acts = binary.BigEndian.AppendUint16(acts, 0xffff) // OFPCML_NO_BUFFER
	acts = append(acts, 0, 0, 0, 0, 0, 0)
	var inst []byte
	inst = binary.BigEndian.AppendUint16(inst, 4) // OFPIT_APPLY_ACTIONS
	inst = binary.BigEndian.AppendUint16(inst, uint16(8+len(acts)))
	inst = append(inst, 0, 0, 0, 0)
	inst = append(inst, acts...)
	return flowMod(0, table, cookie, 0, prio, match, inst)
}

// flowModDelete is an OFPFC_DELETE of table's flows of cookie.
func flowModDelete(table uint8, cookie uint64) []byte {
	return flowMod(3, table, cookie, ^uint64(0), 0, nil, nil)
}

func flowMod(cmd, table uint8, cookie, cookieMask uint64, prio uint16, match, inst []byte) []byte {
	ml := 4 + len(match)
	pad := (8 - ml%8) % 8
	n := 48 + ml + pad + len(inst)
	b := header(nil, ofptFlowMod, n, 0)
	b = binary.BigEndian.AppendUint64(b, cookie)
	b = binary.BigEndian.AppendUint64(b, cookieMask)
	b = append(b, table, cmd)
	b = binary.BigEndian.AppendUint16(b, 0) // idle
	b = binary.BigEndian.AppendUint16(b, 0) // hard
	b = binary.BigEndian.AppendUint16(b, prio)
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // buffer id: none
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // out port: any
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // out group: any
	b = binary.BigEndian.AppendUint16(b, 0)          // flags
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, 1) // OFPMT_OXM
	b = binary.BigEndian.AppendUint16(b, uint16(ml))
	b = append(b, match...)
	b = append(b, make([]byte, pad)...)
	b = append(b, inst...)
	if len(b) != n {
		panic(errors.New("flow mod length"))
	}
	return b
}
