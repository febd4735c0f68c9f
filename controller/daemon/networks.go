package daemon

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/loom-sdn/loom/controller/api"
)

// Runtime networks (api.RuntimeNetwork): a runtime's name for a switch,
// kept with the runtime ports in the stored document. They change
// nothing on any host: a write stores the document again, under
// writeMu, without a new revision of the topology.

// rtNetwork is a runtime network as loomd stores it.
type rtNetwork struct {
	Runtime   string    `json:"runtime"`
	ID        string    `json:"id"`
	Switch    string    `json:"switch"`
	Host      string    `json:"host"`
	CreatedAt time.Time `json:"createdAt"`
}

func (n rtNetwork) view() api.RuntimeNetwork {
	return api.RuntimeNetwork{Runtime: n.Runtime, ID: n.ID, Switch: n.Switch, Host: n.Host, CreatedAt: n.CreatedAt}
}

func cmpNetwork(n rtNetwork, key [2]string) int {
	if c := strings.Compare(n.Runtime, key[0]); c != 0 {
		return c
	}
	return strings.Compare(n.ID, key[1])
}

// findNetwork is where (runtime, id) is or would be in ns (sorted).
func findNetwork(ns []rtNetwork, runtime, id string) (int, bool) {
	return slices.BinarySearchFunc(ns, [2]string{runtime, id}, cmpNetwork)
}

// SetRuntimeNetwork records n; the same again is no change, another
// switch or host for the same id a conflict.
func (d *Daemon) SetRuntimeNetwork(n api.RuntimeNetwork) (*api.RuntimeNetworkSet, error) {
	if n.Runtime != api.RuntimeDocker {
		return nil, badRequest("runtime %q: runtime networks are Docker's (docker)", n.Runtime)
	}
	if n.ID == "" || len(n.ID) > 256 || n.Switch == "" || n.Host == "" {
		return nil, badRequest("a runtime network needs its id (at most 256 bytes), switch and host")
	}
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	if d.base == nil {
		return nil, &api.Error{Code: http.StatusConflict, Message: "no topology in force yet: runtime networks need its switches and hosts"}
	}
	ns := d.st.Runtime.Networks
	i, ok := findNetwork(ns, n.Runtime, n.ID)
	if ok {
		have := ns[i]
		if have.Switch != n.Switch || have.Host != n.Host {
			return nil, &api.Error{Code: http.StatusConflict, Message: fmt.Sprintf("%s network %.12s is on switch %q, host %q already: delete it first",
				n.Runtime, n.ID, have.Switch, have.Host)}
		}
		return &api.RuntimeNetworkSet{RuntimeNetwork: have.view()}, nil
	}
	if err := d.switchAndHost(n.Switch, n.Host); err != nil {
		return nil, err
	}
	add := rtNetwork{Runtime: n.Runtime, ID: n.ID, Switch: n.Switch, Host: n.Host, CreatedAt: time.Now().UTC()}
	if err := d.storeNetworks(slices.Insert(slices.Clone(ns), i, add)); err != nil {
		return nil, err
	}
	return &api.RuntimeNetworkSet{RuntimeNetwork: add.view(), Created: true}, nil
}

// DeleteRuntimeNetwork removes a runtime network; one that is not there
// is no error.
func (d *Daemon) DeleteRuntimeNetwork(runtime, id string) (*api.RuntimeNetworkDeleted, error) {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	ns := d.st.Runtime.Networks
	i, ok := findNetwork(ns, runtime, id)
	if !ok {
		return &api.RuntimeNetworkDeleted{}, nil
	}
	if err := d.storeNetworks(slices.Delete(slices.Clone(ns), i, i+1)); err != nil {
		return nil, err
	}
	return &api.RuntimeNetworkDeleted{Deleted: true}, nil
}

// storeNetworks stores the document with ns as the runtime networks and
// puts it in force; nothing changes if it cannot be stored. The caller
// holds d.writeMu.
func (d *Daemon) storeNetworks(ns []rtNetwork) error {
	st := d.st
	st.Runtime = st.Runtime.clone()
	st.Runtime.Networks = ns
	if err := d.store.save(st); err != nil {
		return &api.Error{Message: "runtime networks could not be stored, nothing changed: " + err.Error(), Code: http.StatusInternalServerError}
	}
	d.mu.Lock()
	d.st = st
	d.mu.Unlock()
	return nil
}

// RuntimeNetwork is one runtime network, if loomd has it.
func (d *Daemon) RuntimeNetwork(runtime, id string) (api.RuntimeNetwork, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ns := d.st.Runtime.Networks
	if i, ok := findNetwork(ns, runtime, id); ok {
		return ns[i].view(), true
	}
	return api.RuntimeNetwork{}, false
}

// RuntimeNetworks lists the runtime networks.
func (d *Daemon) RuntimeNetworks() api.RuntimeNetworks {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := api.RuntimeNetworks{Networks: []api.RuntimeNetwork{}}
	for _, n := range d.st.Runtime.Networks {
		out.Networks = append(out.Networks, n.view())
	}
	return out
}

// networkRoutes serves runtime-networks.
func (d *Daemon) networkRoutes(mux *http.ServeMux) {
	path := api.Prefix + "runtime-networks/{runtime}/{id}"
	mux.HandleFunc("PUT "+path, d.runtimeCalls(func(w http.ResponseWriter, r *http.Request) {
		var n api.RuntimeNetwork
		if !d.readJSON(w, r, &n) {
			return
		}
		if n.Runtime != r.PathValue("runtime") || n.ID != r.PathValue("id") {
			writeError(w, badRequest("the body's runtime and id (%q, %q) differ from the path's", n.Runtime, n.ID))
			return
		}
		res, err := d.SetRuntimeNetwork(n)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}))
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		n, ok := d.RuntimeNetwork(r.PathValue("runtime"), r.PathValue("id"))
		if !ok {
			writeError(w, &api.Error{Code: http.StatusNotFound, Message: fmt.Sprintf("no %s network %q", r.PathValue("runtime"), r.PathValue("id"))})
			return
		}
		writeJSON(w, http.StatusOK, n)
	})
	mux.HandleFunc("GET "+api.Prefix+"runtime-networks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.RuntimeNetworks())
	})
	mux.HandleFunc("DELETE "+path, d.runtimeCalls(func(w http.ResponseWriter, r *http.Request) {
		res, err := d.DeleteRuntimeNetwork(r.PathValue("runtime"), r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}))
}
