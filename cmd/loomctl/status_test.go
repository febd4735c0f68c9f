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
