package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
)

// call posts body to the driver's path and decodes the answer.
func call(t *testing.T, h http.Handler, path, body string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s: answer %q: %v", path, rec.Body.String(), err)
	}
	return rec.Code, out
}

// The handshake, and the requests refused before loomd is asked: each an
// {"Err": ...} that says what to do. (With loomd: e2e TestPodmanAndDocker.)
func TestDriverProtocol(t *testing.T) {
	d := &driver{log: zap.NewNop(), client: &api.Client{Server: "http://127.0.0.1:9"}, host: "h1", tempPrefix: "lmd",
		stateFile: filepath.Join(t.TempDir(), "networks.json")}
	if err := d.load(); err != nil {
		t.Fatal(err)
	}
	h := d.handler()
	if code, out := call(t, h, "/Plugin.Activate", "{}"); code != 200 || out["Implements"].([]any)[0] != "NetworkDriver" {
		t.Errorf("activate: %d %v", code, out)
	}
	if code, out := call(t, h, "/NetworkDriver.GetCapabilities", "{}"); code != 200 || out["Scope"] != "local" {
		t.Errorf("capabilities: %d %v", code, out)
	}
	for _, tc := range []struct{ path, body, want string }{
		{"/NetworkDriver.CreateNetwork", `{"NetworkID": "n1", "Options": {}}`, "--opt switch=NAME"},
		{"/NetworkDriver.CreateNetwork", `{"NetworkID": "n1", "Options": {"com.docker.network.generic": {"switch": "blue", "vlan": "7"}}}`, `unknown option "vlan"`},
		{"/NetworkDriver.CreateNetwork", `{"NetworkID": "n1", "Options": {"com.docker.network.generic": {"switch": "blue"}}}`, "loomd at http://127.0.0.1:9"},
		{"/NetworkDriver.CreateEndpoint", `{"NetworkID": "n9", "EndpointID": "e1"}`, "network n9 is not one of this driver's"},
		{"/NetworkDriver.CreateNetwork", `{"NetworkID": `, "create network: unexpected end of JSON input"},
	} {
		code, out := call(t, h, tc.path, tc.body)
		if code != http.StatusInternalServerError || !strings.Contains(out["Err"].(string), tc.want) {
			t.Errorf("%s %s: %d %v, want an Err with %q", tc.path, tc.body, code, out, tc.want)
		}
	}
	if len(d.networks) != 0 {
		t.Errorf("networks after refusals: %v", d.networks)
	}
	// A network known from the state file (the driver restarted).
	d.networks["n2"] = network{Switch: "blue"}
	if err := d.save(); err != nil {
		t.Fatal(err)
	}
	d2 := &driver{stateFile: d.stateFile}
	if err := d2.load(); err != nil || d2.networks["n2"].Switch != "blue" {
		t.Errorf("state loaded back: %v %v", d2.networks, err)
	}
	if n := d.tempName("0123456789abcdef"); len(n) != 15 || !strings.HasPrefix(n, "lmd") {
		t.Errorf("temp name %q", n)
	}
}
