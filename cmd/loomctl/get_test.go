package main

import (
	"context"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/controller/api"
)

// get topology prints loomd's files as they were written, comments kept,
// after imperative edits too, and its runtime ports apart, as comments.
func TestGetTopologyExportsLoomdFiles(t *testing.T) {
	d, url := loomdWith(t, "acls.yaml")
	src := string(example(t, "acls.yaml"))
	runOn(t, url, src, "get", "topology")

	out, errs, code := run(t, "--server", url, "--config", "", "port", "set", "web1", "mac=02:00:00:00:03:99", "--wait", "0")
	if code != 0 {
		t.Fatalf("port set: %d %s %s", code, out, errs)
	}
	out, errs, code = run(t, "--server", url, "--config", "", "get", "topology")
	if code != 0 || out != d.Topology().Files["acls.yaml"] || !strings.Contains(out, "02:00:00:00:03:99") ||
		strings.Count(out, "\n#") != strings.Count(src, "\n#") {
		t.Fatalf("get topology after an edit: %d %s\n%s", code, errs, out)
	}

	c := &api.Client{Server: url}
	if _, err := c.AddRuntimePort(context.Background(), api.RuntimePortRequest{Switch: "shop", Host: "h1", Runtime: "cni",
		ContainerID: "c0ffee", IfName: "eth0", Interface: "veth-c0ffee", IPs: []string{"192.0.2.40"}}); err != nil {
		t.Fatal(err)
	}
	out, errs, code = run(t, "--server", url, "--config", "", "get", "topology")
	if code != 0 || !strings.HasPrefix(out, d.Topology().Files["acls.yaml"]+"# Runtime ports:") ||
		!strings.Contains(out, "#   - {name: ") || !strings.Contains(out, "interface: veth-c0ffee, runtime: cni c0ffee eth0}") {
		t.Fatalf("get topology with a runtime port: %d %s\n%s", code, errs, out)
	}
	out, _, code = run(t, "--server", url, "--config", "", "get", "topology", "-o", "json")
	if code != 0 || !strings.Contains(out, `"runtimePorts": [`) || !strings.Contains(out, `"acls.yaml": "# yaml-language-server`) {
		t.Fatalf("get topology -o json: %d\n%s", code, out)
	}
}
