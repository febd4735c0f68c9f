package ofctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/flows"
)

// Lines recorded from `ovs-ofctl -O OpenFlow13 monitor TARGET watch:` on
// OVS 3.1.0 (stdout and stderr in one pipe), with what each one says.
func TestParseMonitorLine(t *testing.T) {
	ev := func(event, reason string, table uint8, cookie uint64, text, flow string) monitorLine {
		c := FlowChange{Event: event, Reason: reason, Table: table, Cookie: cookie, Text: text}
		if flow == "" {
			c.Flow = flows.Flow{Table: table, Cookie: cookie}
			c.Err = errors.New("unparsed")
		} else {
			f, err := flows.ParseFlow(flow)
			if err != nil {
				t.Fatal(err)
			}
			f.Priority = 0
			c.Flow = f
		}
		return monitorLine{kind: lineEvent, change: c}
	}
	for _, tc := range []struct {
		line string
		want monitorLine
	}{
		// The listing of the flows present when the monitor connects: a
		// reply to the request (xid != 0), in parts of ~1,000 flows.
		{"ONFST_FLOW_MONITOR reply (OF1.3) (xid=0x6): flags=[more]\n", monitorLine{kind: lineHeader, xid: 6}},
		{"ONFST_FLOW_MONITOR reply (OF1.3) (xid=0x6):\n", monitorLine{kind: lineHeader, xid: 6}},
		// Changes afterwards: xid 0.
		{"ONFST_FLOW_MONITOR reply (OF1.3) (xid=0x0):\n", monitorLine{kind: lineHeader}},
		{"ONFST_FLOW_MONITOR reply (OF1.3) (xid=0x0): flags=[more]\n", monitorLine{kind: lineHeader}},
		{" event=ADDED table=3 cookie=0x4c4d000000000002 dl_dst=02:00:00:00:00:01 actions=output:1\n", ev("ADDED", "", 3, 0x4c4d000000000002,
			"table=3 cookie=0x4c4d000000000002 dl_dst=02:00:00:00:00:01 actions=output:1",
			"table=3,cookie=0x4c4d000000000002,dl_dst=02:00:00:00:00:01,actions=output:1")},
		{" event=ADDED table=3 cookie=0x4c4d000000000002 dl_dst=02:00:00:00:00:02 actions=set_field:0x5->reg7,goto_table:60\n", ev("ADDED", "", 3, 0x4c4d000000000002,
			"table=3 cookie=0x4c4d000000000002 dl_dst=02:00:00:00:00:02 actions=set_field:0x5->reg7,goto_table:60",
			"table=3,cookie=0x4c4d000000000002,dl_dst=02:00:00:00:00:02,actions=set_field:0x5->reg7,goto_table:60")},
		// mod-flows to actions=drop: no actions printed.
		{" event=MODIFIED table=3 cookie=0x4c4d000000000002 dl_dst=02:00:00:00:00:02\n", ev("MODIFIED", "", 3, 0x4c4d000000000002,
			"table=3 cookie=0x4c4d000000000002 dl_dst=02:00:00:00:00:02",
			"table=3,cookie=0x4c4d000000000002,dl_dst=02:00:00:00:00:02,actions=drop")},
		{" event=DELETED reason=delete table=3 cookie=0x4c4d000000000003 dl_dst=02:00:00:00:00:01 actions=output:2\n", ev("DELETED", "delete", 3, 0x4c4d000000000003,
			"table=3 cookie=0x4c4d000000000003 dl_dst=02:00:00:00:00:01 actions=output:2",
			"table=3,cookie=0x4c4d000000000003,dl_dst=02:00:00:00:00:01,actions=output:2")},
		// A catch-all match, no actions; timeouts come before the cookie;
		// the cookie 0 is printed in decimal.
		{" event=ADDED table=0 cookie=0x4c4d000000000001\n", ev("ADDED", "", 0, 0x4c4d000000000001,
			"table=0 cookie=0x4c4d000000000001", "cookie=0x4c4d000000000001,actions=drop")},
		{" event=DELETED reason=idle table=5 idle_timeout=1 cookie=0x4c4d000000000009\n", ev("DELETED", "idle", 5, 0x4c4d000000000009,
			"table=5 idle_timeout=1 cookie=0x4c4d000000000009", "table=5,idle_timeout=1,cookie=0x4c4d000000000009,actions=drop")},
		{" event=ADDED table=1 cookie=0 ip\n", ev("ADDED", "", 1, 0, "table=1 cookie=0 ip", "table=1,ip,actions=drop")},
		// A flow Loom's parser does not know: its group and text only.
		{" event=ADDED table=0 cookie=0x4c4d000000000002 tcp,nw_src=10.0.0.1,tp_dst=80 actions=ct(commit,zone=5),load:0x1->NXM_NX_REG0[],output:1\n", ev("ADDED", "", 0, 0x4c4d000000000002,
			"table=0 cookie=0x4c4d000000000002 tcp,nw_src=10.0.0.1,tp_dst=80 actions=ct(commit,zone=5),load:0x1->NXM_NX_REG0[],output:1", "")},
		// A flow outside Loom's cookie space parses too (the monitor drops it).
		{" event=MODIFIED table=60 cookie=0x1234 reg7=0x5 actions=output:3\n", ev("MODIFIED", "", 60, 0x1234,
			"table=60 cookie=0x1234 reg7=0x5 actions=output:3", "table=60,cookie=0x1234,reg7=0x5,actions=output:3")},
		{"OFPT_BARRIER_REPLY (OF1.3) (xid=0x9):\n", monitorLine{kind: lineBarrier}},
		{"ONFT_FLOW_MONITOR_PAUSED (OF1.3) (xid=0x0):\n", monitorLine{kind: linePaused}},
		{"ONFT_FLOW_MONITOR_RESUMED (OF1.3) (xid=0x0):\n", monitorLine{kind: lineResumed}},
		// Ignored: echo requests, ovs-ofctl's log, abbreviated updates (only
		// for the monitoring connection's own flow mods), junk.
		{"OFPT_ECHO_REQUEST (OF1.3) (xid=0x0): 0 bytes of payload\n", monitorLine{}},
		{"2026-12-07T12:59:34Z|00001|fatal_signal|WARN|terminating with signal 15 (Terminated)\n", monitorLine{}},
		{"ovs-ofctl: vconn_recv (End of file)\n", monitorLine{}},
		{" event=ABBREV xid=0x1234\n", monitorLine{}},
		{" event=ADDED table=x cookie=0x1\n", monitorLine{}},
		{" event=ADDED cookie=0x1\n", monitorLine{}},
		{" event=DELETED table=1 cookie=0x1\n", monitorLine{}},
		{"", monitorLine{}},
	} {
		got := parseMonitorLine(tc.line)
		w, g := tc.want.change, got.change
		switch {
		case got.kind != tc.want.kind || got.xid != tc.want.xid,
			g.Event != w.Event || g.Reason != w.Reason || g.Table != w.Table || g.Cookie != w.Cookie || g.Text != w.Text,
			(g.Err == nil) != (w.Err == nil),
			!g.Flow.EqualUpdate(&w.Flow):
			t.Errorf("parseMonitorLine(%q)\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
}

// change is a flow change of one event; flow is its update as OVS prints
// it ("" for a deletion, whose flow does not matter here).
func change(ev, reason string, table uint8, cookie uint64, flow string) FlowChange {
	c := FlowChange{Event: ev, Reason: reason, Table: table, Cookie: cookie, Flow: flows.Flow{Table: table, Cookie: cookie}}
	if flow != "" {
		f, err := flows.ParseUpdate(fmt.Sprintf("table=%d cookie=%#x %s", table, cookie, flow))
		if err != nil {
			panic(err)
		}
		c.Flow = f
	}
	return c
}

// A bundle's echo is explained by its plan; anything else is foreign.
func TestEcho(t *testing.T) {
	const a, b, c = 0x4c4d000000000001, 0x4c4d000000000002, 0x4c4d000000000003
	add := func(cookie uint64, prio uint16, match string) flows.Flow {
		f, err := flows.ParseFlow(fmt.Sprintf("table=3,priority=%d,cookie=%#x,%s,actions=output:1", prio, cookie, match))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// Group (3, a) is replaced (deleted, then 2 flows added); group (3, b)
	// only gains flows (its 2 flows are added again, one of them anew).
	plan := &Plan{
		Groups:  []Group{{3, a}, {3, b}},
		Deletes: []Group{{3, a}},
		Adds:    []flows.Flow{add(a, 10, "reg7=1"), add(a, 10, "reg7=2"), add(b, 20, "reg7=1"), add(b, 10, "reg6=1")},
	}
	// As the updates show them: without priority, in OVS's spelling.
	echo := []FlowChange{
		change("DELETED", "delete", 3, a, ""), change("DELETED", "delete", 3, a, ""), change("DELETED", "delete", 3, a, ""),
		change("ADDED", "", 3, a, "reg7=0x1 actions=output:1"), change("ADDED", "", 3, a, "reg7=0x2 actions=output:1"),
		change("ADDED", "", 3, b, "reg7=0x1 actions=output:1"), change("ADDED", "", 3, b, "reg6=0x1 actions=output:1"),
	}
	handAdd := change("ADDED", "", 3, b, "reg7=0x1 actions=output:1")
	for _, tc := range []struct {
		name         string
		changes      []FlowChange
		wantForeign  []FlowChange
		wantComplete bool
	}{
		{"the echo", echo, nil, true},
		{"the echo in another order", []FlowChange{echo[0], echo[6], echo[1], echo[5], echo[2], echo[4], echo[3]}, nil, true},
		{"nothing yet", nil, nil, false},
		{"half of it", echo[:4], nil, false},
		{"a hand deletion before, in a group the bundle replaces", append([]FlowChange{change("DELETED", "delete", 3, a, "")}, echo...), nil, true},
		{"a hand deletion before, in a group the bundle only adds to",
			append([]FlowChange{change("DELETED", "delete", 3, b, "")}, echo...), []FlowChange{change("DELETED", "delete", 3, b, "")}, true},
		{"a hand deletion after", append(append([]FlowChange(nil), echo...), change("DELETED", "delete", 3, a, "")),
			[]FlowChange{change("DELETED", "delete", 3, a, "")}, true},
		{"a hand add after", append(append([]FlowChange(nil), echo...), handAdd), []FlowChange{handAdd}, true},
		{"a hand add before", append([]FlowChange{handAdd}, echo...), []FlowChange{handAdd}, true},
		{"an add of another flow in a group the bundle adds to", append(append([]FlowChange(nil), echo[:6]...), change("ADDED", "", 3, b, "reg6=0x1 actions=output:2")),
			[]FlowChange{change("ADDED", "", 3, b, "reg6=0x1 actions=output:2")}, false},
		{"a hand modification", append(append([]FlowChange(nil), echo...), change("MODIFIED", "", 3, a, "reg7=0x1 actions=drop")),
			[]FlowChange{change("MODIFIED", "", 3, a, "reg7=0x1 actions=drop")}, true},
		{"another group", append(append([]FlowChange(nil), echo...), change("DELETED", "delete", 4, a, "")),
			[]FlowChange{change("DELETED", "delete", 4, a, "")}, true},
		{"another cookie", append(append([]FlowChange(nil), echo...), change("ADDED", "", 3, c, "reg7=0x1 actions=output:1")),
			[]FlowChange{change("ADDED", "", 3, c, "reg7=0x1 actions=output:1")}, true},
		{"a timeout", append(append([]FlowChange(nil), echo[:3]...), change("DELETED", "idle", 3, a, "")),
			[]FlowChange{change("DELETED", "idle", 3, a, "")}, false},
	} {
		foreign, complete := plan.Echo(tc.changes)
		if !reflect.DeepEqual(foreign, tc.wantForeign) || complete != tc.wantComplete {
			t.Errorf("%s: foreign %v complete %v, want %v %v", tc.name, foreign, complete, tc.wantForeign, tc.wantComplete)
		}
	}
	// An empty plan explains nothing.
	if foreign, complete := (&Plan{}).Echo(echo[:1]); len(foreign) != 1 || !complete {
		t.Errorf("empty plan: foreign %v complete %v", foreign, complete)
	}
}

// The monitor's process carries the SSL files on an ssl: target.
func TestMonitorSSLArgs(t *testing.T) {
	calls := fakeOfctl(t)
	files := SSL{PrivateKey: "/k/ctl-privkey.pem", Certificate: "/k/ctl-cert.pem", CACert: "/k/switchca.pem"}
	for _, tc := range []struct {
		c    *Client
		want string
	}{
		{New("ssl:198.18.0.11:6653", WithSSL(files)), "monitor ssl:198.18.0.11:6653 watch: --private-key=/k/ctl-privkey.pem --certificate=/k/ctl-cert.pem --ca-cert=/k/switchca.pem"},
		{New("tcp:198.18.0.11:6653", WithSSL(files)), "monitor tcp:198.18.0.11:6653 watch:"},
	} {
		m := NewMonitor(MonitorConfig{})
		if m.attempt(t.Context(), tc.c) {
			t.Fatal("the fake connected")
		}
		got := calls()
		if len(got) != 1 || !strings.HasPrefix(got[0], "-O OpenFlow13 --no-names --unixctl=") || !strings.HasSuffix(got[0], tc.want) {
			t.Errorf("calls %q, want one ending %q", got, tc.want)
		}
	}
	// Without the files nothing is run.
	if NewMonitor(MonitorConfig{}).attempt(t.Context(), New("ssl:198.18.0.11:6653")) {
		t.Fatal("connected without files")
	}
	if got := calls(); len(got) != 1 || got[0] != "" {
		t.Errorf("ovs-ofctl was run: %q", got)
	}
}

// A listener that accepts and never answers (a host that swallows
// packets looks the same to ovs-ofctl): the attempt is given up after
// ConnectTimeout and made again. (The monitor first knocks: a connection
// it closes without a word, not counted here.)
func TestMonitorConnectTimeout(t *testing.T) {
	needOfctl(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	attempts := make(chan time.Time, 10) // connections that spoke (an OpenFlow hello)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Read(make([]byte, 8)); err == nil {
					attempts <- time.Now()
					io.Copy(io.Discard, c) // and never answer
				}
			}()
		}
	}()
	target := "tcp:" + ln.Addr().String()
	m := NewMonitor(MonitorConfig{Client: func() *Client { return New(target) }, ConnectTimeout: 300 * time.Millisecond,
		Handle: func(e MonitorEvent) { t.Errorf("event from a silent listener: %+v", e) }})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	var at []time.Time
	for len(at) < 2 {
		select {
		case a := <-attempts:
			at = append(at, a)
		case <-time.After(10 * time.Second):
			t.Fatalf("attempt %d did not come", len(at)+1)
		}
	}
	if gap := at[1].Sub(at[0]); gap < 250*time.Millisecond {
		t.Errorf("second attempt %v after the first: the first was not held until the timeout", gap)
	}
	cancel()
	<-done
}

// Knocking: a refused connection costs no process.
func TestKnock(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx := t.Context()
	if err := knock(ctx, "tcp:"+addr, time.Second); err != nil {
		t.Errorf("knock on a listener: %v", err)
	}
	ln.Close()
	for _, target := range []string{"tcp:" + addr, "ssl:" + addr, "unix:" + t.TempDir() + "/none"} {
		if err := knock(ctx, target, time.Second); err == nil {
			t.Errorf("knock on %s: no error", target)
		}
	}
	if err := knock(ctx, "punix:/x", time.Second); err != nil {
		t.Errorf("an unknown kind of target is left to ovs-ofctl: %v", err)
	}
}
