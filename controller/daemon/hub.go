package daemon

import (
	"sync"

	"github.com/loom-sdn/loom/controller/api"
)

// hub fans status events out to the watchers of GET status?watch=true. A
// watcher that falls behind by more than its buffer is dropped (its stream
// ends; it reconnects and gets a fresh snapshot) rather than slowing the
// reconcilers.
type hub struct {
	mu   sync.Mutex
	subs map[chan api.Event]struct{}
}

func (h *hub) subscribe() chan api.Event {
	c := make(chan api.Event, 4096)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan api.Event]struct{}{}
	}
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return c
}

func (h *hub) unsubscribe(c chan api.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[c]; ok {
		delete(h.subs, c)
		close(c)
	}
}

func (h *hub) publish(ev api.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- ev:
		default:
			delete(h.subs, c)
			close(c)
		}
	}
}
