package main

import (
	"strings"
	"testing"

	"github.com/loom-sdn/loom/controller/api"
)

func TestHostNotes(t *testing.T) {
	down := []api.PortProblem{{Object: "port/web9", Interface: "lm-web9", Problem: "port web9: interface lm-web9 does not exist on host h2 (start the workload, or fix the port's interface or host)"}}
	for _, tc := range []struct {
		name string
		h    *api.HostStatus
		want []string // substrings, one per note
	}{
		{"no status (--direct)", nil, nil},
		{"in sync", &api.HostStatus{Host: "h2", State: api.StateInSync, Revision: 5, Desired: 5}, nil},
		{"behind", &api.HostStatus{Host: "h2", State: api.StateError, Revision: 4, Desired: 5, LastError: "boom"},
			[]string{"host h2 is not at revision 5: it is at revision 4, error: boom; its switch may not do what the topology says"}},
		{"failing at the revision", &api.HostStatus{Host: "h2", State: api.StateUnreachable, Revision: 5, Desired: 5, LastError: "dial"},
			[]string{"host h2 is not in sync (unreachable) at revision 5: dial;"}},
		{"degraded", &api.HostStatus{Host: "h2", State: api.StateDegraded, Revision: 5, Desired: 5, PortsDown: down},
			[]string{"host h2 has a port down: port web9: interface lm-web9 does not exist on host h2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := hostNotes(tc.h, 5)
			if len(got) != len(tc.want) {
				t.Fatalf("notes %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("note %d: %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestPortState(t *testing.T) {
	h := &api.HostStatus{State: api.StateDegraded, PortsDown: []api.PortProblem{{Object: "port/b9", Problem: "p"}}}
	if s, p := portState(h, "port/b9"); s != portDown || p != "p" {
		t.Errorf("b9: %q %q", s, p)
	}
	if s, p := portState(h, "port/b1"); s != api.StateInSync || p != "" {
		t.Errorf("b1 on a degraded host: %q %q", s, p)
	}
	h.State = api.StateError
	if s, _ := portState(h, "port/b1"); s != api.StateError {
		t.Errorf("b1 on a failing host: %q", s)
	}
}
