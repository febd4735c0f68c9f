package daemon

import (
	"testing"

	"github.com/loom-sdn/loom/controller/api"
)

// A watcher that falls behind by more than its buffer is cut (its channel
// closed, after every event it was given); one that keeps up is not.
func TestHubCutsASlowWatcher(t *testing.T) {
	var h hub
	slow, quick := h.subscribe(), h.subscribe()
	got := 0
	for i := range cap(slow) + 10 {
		h.publish(api.Event{Type: api.EventTopology, Topology: &api.TopologyState{Revision: int64(i)}})
		select {
		case ev, ok := <-quick:
			if !ok || ev.Topology.Revision != int64(i) {
				t.Fatalf("the watcher that keeps up: event %d: %+v %v", i, ev, ok)
			}
			got++
		default:
			t.Fatalf("the watcher that keeps up got nothing for event %d", i)
		}
	}
	n := 0
	for range slow {
		n++
	}
	if n != cap(slow) {
		t.Errorf("the slow watcher got %d events before its stream ended, want its buffer's %d", n, cap(slow))
	}
	h.unsubscribe(slow) // already cut: nothing to do
	h.unsubscribe(quick)
	if _, ok := <-quick; ok {
		t.Error("unsubscribe leaves the channel open")
	}
}
