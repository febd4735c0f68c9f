package main

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/loom-sdn/loom/controller"
)

// statusDoc is loomd's answer to GET /api/v1/status.
type statusDoc struct {
	Topology topologyInfo            `json:"topology"`
	Hosts    []controller.HostStatus `json:"hosts"`
}

// topologyInfo says which topology is in force and what became of the
// last attempt to load one.
type topologyInfo struct {
	Path     string    `json:"path"`
	Loaded   bool      `json:"loaded"`             // a valid topology is in force
	LoadedAt time.Time `json:"loadedAt,omitempty"` // when it was loaded
	Rejected string    `json:"rejected,omitempty"` // why the newest files were not taken
	Hosts    int       `json:"hosts"`
	Switches int       `json:"switches"`
	Ports    int       `json:"ports"`
}

// apiError is the body of every 4xx and 5xx answer.
type apiError struct {
	Error string `json:"error"`
}

// newAPI serves loomd's HTTP API under /api/v1/. With a token, every API
// request must carry "Authorization: Bearer TOKEN".
func newAPI(token string, topo func() topologyInfo, hosts func() []controller.HostStatus) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, apiError{"only GET is allowed here"})
			return
		}
		writeJSON(w, http.StatusOK, statusDoc{Topology: topo(), Hosts: hosts()})
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{"no such API path: " + r.URL.Path})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="loomd"`)
				writeJSON(w, http.StatusUnauthorized, apiError{"missing or wrong bearer token"})
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) //nolint:errcheck // the client went away
}
