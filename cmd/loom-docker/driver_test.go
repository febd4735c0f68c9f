package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/plumb"
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
	d := &driver{log: zap.NewNop(), client: &api.Client{Server: "http://127.0.0.1:9"}, host: "h1", tempPrefix: "lmd", networks: map[string]string{}}
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
		{"/NetworkDriver.CreateNetwork", `{"NetworkID": "n1", "Options": {"com.docker.network.generic": {"switch": "blue"}}, "IPv4Data": [{"Pool": "172.18.0.0/16"}]}`, "--ipam-driver null"},
		{"/NetworkDriver.CreateNetwork", `{"NetworkID": "n1", "Options": {"com.docker.network.generic": {"switch": "blue"}}}`, "loomd at http://127.0.0.1:9"},
		{"/NetworkDriver.CreateEndpoint", `{"NetworkID": "n9", "EndpointID": "e1"}`, "network n9: loomd"},
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
	if n := d.tempName("0123456789abcdef"); len(n) != 15 || !strings.HasPrefix(n, "lmd") {
		t.Errorf("temp name %q", n)
	}
}

// The endpoint's driver options (--driver-opt): addresses and name; Docker's
// own options ignored; anything else refused, naming what loom takes.
func TestEndpointOptions(t *testing.T) {
	var req plumb.Request
	err := endpointOptions(map[string]any{"ip": "10.1.0.7", "ip6": "fd00::7", "name": "web1",
		"com.docker.network.endpoint.exposedports": []any{}, "com.docker.network.portmap": []any{}}, &req)
	if err != nil || strings.Join(req.IPs, " ") != "10.1.0.7 fd00::7" || req.Name != "web1" {
		t.Errorf("options: %+v %v", req, err)
	}
	for _, tc := range []struct {
		opts map[string]any
		want string
	}{
		{map[string]any{"ip": "10.1.0.7/24"}, `driver option ip=10.1.0.7/24: want an IPv4 address, without prefix length`},
		{map[string]any{"ip": "fd00::7"}, `want an IPv4 address`},
		{map[string]any{"ip6": "10.1.0.7"}, `driver option ip6=10.1.0.7: want an IPv6 address`},
		{map[string]any{"vlan": "7"}, `unknown driver option "vlan" (loom takes ip, ip6 and name)`},
		{map[string]any{"name": 7.0}, `driver option "name": want a string`},
	} {
		var req plumb.Request
		if err := endpointOptions(tc.opts, &req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.opts, err, tc.want)
		}
	}
}
