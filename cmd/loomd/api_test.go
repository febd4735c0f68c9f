package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/loom-sdn/loom/controller"
)

func TestAPI(t *testing.T) {
	topo := func() topologyInfo { return topologyInfo{Path: "/t.yaml", Loaded: true, Hosts: 1} }
	hosts := func() []controller.HostStatus {
		return []controller.HostStatus{{Host: "h1", State: controller.StateInSync, Flows: 16}}
	}
	srv := httptest.NewServer(newAPI("s3cret", topo, hosts))
	defer srv.Close()
	do := func(method, path, token string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
		}
		return resp, body
	}
	for _, c := range []struct {
		method, path, token string
		code                int
	}{
		{"GET", "/api/v1/status", "", http.StatusUnauthorized},
		{"GET", "/api/v1/status", "wrong", http.StatusUnauthorized},
		{"POST", "/api/v1/status", "s3cret", http.StatusMethodNotAllowed},
		{"GET", "/api/v1/nope", "s3cret", http.StatusNotFound},
		{"GET", "/api/v1/status", "s3cret", http.StatusOK},
	} {
		resp, body := do(c.method, c.path, c.token)
		if resp.StatusCode != c.code {
			t.Errorf("%s %s (token %q): %d, want %d", c.method, c.path, c.token, resp.StatusCode, c.code)
		}
		if c.code != http.StatusOK && body["error"] == "" {
			t.Errorf("%s %s: no error in the body: %v", c.method, c.path, body)
		}
	}
	_, body := do("GET", "/api/v1/status", "s3cret")
	hs := body["hosts"].([]any)
	if len(hs) != 1 || hs[0].(map[string]any)["state"] != "in sync" || body["topology"].(map[string]any)["loaded"] != true {
		t.Errorf("status: %v", body)
	}
}
