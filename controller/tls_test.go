package controller

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/topology"
)

func TestTLSCheck(t *testing.T) {
	if err := (TLS{}).Check(); err != nil {
		t.Errorf("no TLS: %v", err)
	}
	if err := (TLS{PrivateKey: "/k"}).Check(); err == nil || !strings.Contains(err.Error(), "or none") {
		t.Errorf("only a key: err = %v", err)
	}
	missing := filepath.Join(t.TempDir(), "ctl-privkey.pem")
	if err := (TLS{PrivateKey: missing, Certificate: "/c", CACert: "/ca"}).Check(); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing key: err = %v", err)
	}
}

// A TLS setting that cannot be loaded stops a run before any host is
// contacted (the topology's hosts do not exist; no result comes back).
func TestApplyRefusesBadTLS(t *testing.T) {
	topo, err := topology.Load("../flows/testdata/three-ports/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(key, []byte("not a key\n"), 0o600)
	e := &Engine{Log: zap.NewNop(), Opts: Options{TLS: TLS{PrivateKey: key, Certificate: key, CACert: key}}}
	res, err := e.Apply(context.Background(), topo)
	if err == nil || res != nil {
		t.Fatalf("Apply = %v, %v; want an error and no results", res, err)
	}
	if strings.Contains(err.Error(), "not a key") {
		t.Errorf("error shows file contents: %v", err)
	}
}
