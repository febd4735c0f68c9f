package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
)

// A changed topology file is taken as soon as the system reports it
// (fsnotify), not at the next reload tick (an hour here); a file replaced
// by rename, as editors and deployments do, counts too.
func TestFilesWatched(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "net.yaml")
	if err := os.WriteFile(path, []byte(topo), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, filepath.Join(dir, "state"), path)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { f.d.Run(ctx, time.Hour); close(done) }()
	defer func() { cancel(); <-done }()
	revision := func(want int64) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			var st api.Status
			f.call("GET", "/api/v1/status", token, "", &st)
			if st.Topology.Revision == want {
				return time.Since(start)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("revision %d not reached within 10 s: %+v", want, st.Topology)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	time.Sleep(50 * time.Millisecond) // the watch is set up
	if err := os.WriteFile(path, []byte(strings.Replace(topo, "tunnelKey: 100", "tunnelKey: 101", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("written in place: taken after %v", revision(2))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Replace(topo, "tunnelKey: 100", "tunnelKey: 102", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	t.Logf("replaced by rename: taken after %v", revision(3))
}
