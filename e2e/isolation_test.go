package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestUnreachableHostDoesNotStopOthers: a topology names a third host that
// does not exist. plan changes nothing; apply converges the two real hosts,
// reports the third as failed, and exits non-zero.
func TestUnreachableHostDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t2-", 2)
	ws := []workload{
		{"h1", "a1", "02:00:00:00:0a:01", "192.0.2.1", "24"},
		{"h2", "b1", "02:00:00:00:0b:01", "192.0.2.3", "24"},
	}
	for _, w := range ws {
		l.Workload(w.host, w.name, w.mac, w.ip+"/"+w.plen)
	}

	out, err := l.Loomctl("plan", "--direct", "-f", "testdata/two-ports.yaml")
	t.Logf("plan:\n%s", out)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if !strings.Contains(out, "create bridge br-int") || !strings.Contains(out, "Plan: 2 hosts to change") {
		t.Errorf("plan does not show the bridges to create:\n%s", out)
	}
	if br := l.MustExec("h1", "ovs-vsctl", "list-br"); strings.Contains(br, "br-int") {
		t.Fatalf("plan created br-int")
	}

	out, err = l.Loomctl("apply", "--direct", "--host-timeout", "5s", "-f", "testdata/two-ports.yaml", "-f", "testdata/unreachable-host.yaml")
	t.Logf("apply:\n%s", out)
	if err == nil {
		t.Fatal("apply with an unreachable host exited 0")
	}
	if !strings.Contains(out, "✗ h9: ") || !regexp.MustCompile(`Applied: 2 hosts changed \(.*\), 0 in sync, 1 failed`).MatchString(out) {
		t.Errorf("apply does not report h9 failed and the others changed:\n%s", out)
	}
	pingAll(t, l, ws)
}
