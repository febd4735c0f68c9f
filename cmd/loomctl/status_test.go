package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/loom-sdn/loom/controller/api"
)

// loomd cuts a watcher that falls behind; loomctl status --watch watches
// again and goes on from a fresh snapshot. When loomd no longer answers,
// the watch ends with its error.
func TestStatusWatchAgain(t *testing.T) {
	var streams atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") != "true" {
			http.NotFound(w, r)
			return
		}
		n := streams.Add(1)
		if n > 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(api.Error{Message: "loomd is stopping"})
			return
		}
		enc := json.NewEncoder(w)
		enc.Encode(api.Event{Type: api.EventSnapshot, Status: &api.Status{Topology: api.TopologyState{Loaded: true, Revision: int64(n)}}})
		enc.Encode(api.Event{Type: api.EventHost, Host: &api.HostStatus{Host: "h1", State: api.StateInSync, Revision: int64(n)}})
		// The stream ends here, as when loomd cuts a slow watcher.
	}))
	defer srv.Close()
	out, errs, code := run(t, "status", "--watch", "--server", srv.URL, "--config", "", "-o", "json")
	if code == 0 || !strings.Contains(errs, "loomd is stopping") {
		t.Errorf("exit %d, stderr %q: want the error of the last attempt", code, errs)
	}
	if got := strings.Count(errs, "watching again"); got != 2 {
		t.Errorf("%d notes of watching again, want 2:\n%s", got, errs)
	}
	for _, want := range []string{`"revision": 1`, `"revision": 2`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s (a snapshot of each stream):\n%s", want, out)
		}
	}
}

// A removed host's lines say what is going on in words, not as a host
// short of its revision.
func TestHostLineRemoved(t *testing.T) {
	for _, c := range []struct {
		h    api.HostStatus
		want string
	}{
		{api.HostStatus{Host: "h3", State: api.StateRemoving, Revision: 4, Desired: 4, LastError: "ovsdb tcp:198.18.0.13:6640: dial: refused"},
			"h3: removing: removed from the topology (revision 4), Loom's bridge to delete: ovsdb tcp:198.18.0.13:6640: dial: refused"},
		{api.HostStatus{Host: "h3", State: api.StateRemoved, Revision: 4, Desired: 4},
			"h3: removed from the topology (revision 4) and cleaned"},
		{api.HostStatus{Host: "h1", State: api.StateInSync, Revision: 4, Desired: 4, Flows: 9},
			"h1: in sync, revision 4 of 4, 9 flows"},
	} {
		if got := hostLine(colors{}, c.h); got != c.want {
			t.Errorf("hostLine(%s) = %q, want %q", c.h.State, got, c.want)
		}
	}
}
