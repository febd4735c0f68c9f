package daemon

import (
	"context"
	"net/http"
	"testing"

	"github.com/loom-sdn/loom/controller/api"
)

// Runtime networks: set (again: no change; another switch: 409), read,
// listed, kept over a restart and over writes of the topology and of
// runtime ports, deleted (again: no error); bad ones refused.
func TestRuntimeNetworks(t *testing.T) {
	dir := t.TempDir()
	f, c := rtFixture(t, dir)
	ctx := context.Background()
	id := "5d1e0c0ffee5d1e0c0ffee5d1e0c0ffee5d1e0c0ffee5d1e0c0ffee5d1e0c0ff"
	n := api.RuntimeNetwork{Runtime: api.RuntimeDocker, ID: id, Switch: "blue", Host: "h1"}
	rev := f.d.st.Revision

	set, err := c.SetRuntimeNetwork(ctx, n)
	if err != nil || !set.Created || set.Switch != "blue" || set.CreatedAt.IsZero() {
		t.Fatalf("set: %+v %v", set, err)
	}
	again, err := c.SetRuntimeNetwork(ctx, n)
	if err != nil || again.Created || !again.CreatedAt.Equal(set.CreatedAt) {
		t.Fatalf("set again: %+v %v, want the same network, not created", again, err)
	}
	other := n
	other.Switch = "tiny"
	_, err = c.SetRuntimeNetwork(ctx, other)
	apiErr(t, err, http.StatusConflict, `is on switch "blue", host "h1" already`)
	if f.d.st.Revision != rev {
		t.Errorf("a runtime network made a revision of the topology: %d -> %d", rev, f.d.st.Revision)
	}

	for _, bad := range []struct {
		n    api.RuntimeNetwork
		code int
		says string
	}{
		{api.RuntimeNetwork{Runtime: "cni", ID: "x", Switch: "blue", Host: "h1"}, 400, `runtime "cni"`},
		{api.RuntimeNetwork{Runtime: "docker", ID: "x", Host: "h1"}, 400, "needs its id"},
		{api.RuntimeNetwork{Runtime: "docker", ID: "x", Switch: "green", Host: "h1"}, 404, `no switch named "green"`},
		{api.RuntimeNetwork{Runtime: "docker", ID: "x", Switch: "blue", Host: "h9"}, 404, `no host named "h9"`},
	} {
		_, err := c.SetRuntimeNetwork(ctx, bad.n)
		apiErr(t, err, bad.code, bad.says)
	}
	if code, raw := f.call("PUT", "/api/v1/runtime-networks/docker/other", token, `{"runtime":"docker","id":"x","switch":"blue","host":"h1"}`, nil); code != 400 {
		t.Errorf("body and path disagree: %d %s, want 400", code, raw)
	}

	// Other writes keep it: a runtime port, and the topology again.
	if _, err := c.AddRuntimePort(ctx, addReq("h2", "keep")); err != nil {
		t.Fatal(err)
	}
	if code, raw := f.call("PUT", "/api/v1/topology", token, put(f.d.st.Revision, map[string]string{"net.yaml": rtTopo + "\n# again\n"}), nil); code != 200 {
		t.Fatalf("PUT: %d %s", code, raw)
	}
	f.srv.Close()

	_, c2 := rtFixture(t, dir)
	got, err := c2.RuntimeNetwork(ctx, "docker", id)
	if err != nil || got.Switch != "blue" || got.Host != "h1" || !got.CreatedAt.Equal(set.CreatedAt) {
		t.Fatalf("after writes and a restart: %+v %v", got, err)
	}
	list, err := c2.RuntimeNetworks(ctx)
	if err != nil || len(list.Networks) != 1 || list.Networks[0].ID != id {
		t.Fatalf("list: %+v %v", list, err)
	}
	del, err := c2.DeleteRuntimeNetwork(ctx, "docker", id)
	if err != nil || !del.Deleted {
		t.Fatalf("delete: %+v %v", del, err)
	}
	if _, err := c2.RuntimeNetwork(ctx, "docker", id); !api.IsNotFound(err) {
		t.Fatalf("after delete: %v, want 404", err)
	}
	del, err = c2.DeleteRuntimeNetwork(ctx, "docker", id)
	if err != nil || del.Deleted {
		t.Fatalf("delete again: %+v %v, want no error, nothing deleted", del, err)
	}
}
