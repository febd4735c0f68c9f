package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/plumb"
)

// requirePodman skips (or, in CI, fails) when podman, runc or
// busybox-static is missing (.ci/run installs them).
func requirePodman(t *testing.T) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"podman", "runc", "/usr/lib/cni/loopback", "/bin/busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("the podman test needs %s (apt-get install podman containernetworking-plugins busybox-static runc)", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// podman is a private podman (its own root, runroot, tmpdir, network
// config dir and containers.conf, as DESIGN.md says podman runs here):
// rootful, runc, CNI backend with loom-cni in its plugin dirs.
type podman struct {
	t    *testing.T
	dir  string
	args []string
	env  []string
}

func newPodman(t *testing.T, prefix string) *podman {
	t.Helper()
	requirePodman(t)
	dir, err := os.MkdirTemp("", prefix+"podman")
	if err != nil {
		t.Fatal(err)
	}
	p := &podman{t: t, dir: dir}
	conf := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
network_backend = "cni"
cni_plugin_dirs = [%q, "/usr/lib/cni", "/opt/cni/bin"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`, filepath.Dir(binary(t, "loom-cni")))), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "cni"), 0o755); err != nil {
		t.Fatal(err)
	}
	p.args = []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "runroot"), "--tmpdir", filepath.Join(dir, "tmp"),
		"--storage-driver", "vfs", "--network-config-dir", filepath.Join(dir, "cni")}
	p.env = append(os.Environ(), "CONTAINERS_CONF="+conf)
	t.Cleanup(func() {
		if out, err := p.run("rm", "--all", "--force", "--time", "0"); err != nil {
			t.Errorf("podman rm --all: %v\n%s", err, out)
		}
		if out, err := p.run("system", "reset", "--force"); err != nil {
			t.Logf("podman system reset: %v\n%s", err, out)
		}
		os.RemoveAll(dir)
	})
	return p
}

func (p *podman) run(args ...string) (string, error) {
	cmd := exec.Command("podman", append(append([]string{}, p.args...), args...)...)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (p *podman) must(args ...string) string {
	p.t.Helper()
	out, err := p.run(args...)
	if err != nil {
		p.t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// image imports a busybox-static root (busybox, its applet links,
// /etc/passwd) as the image name: there is no registry here.
func (p *podman) image(name string) {
	p.t.Helper()
	root := filepath.Join(p.dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			p.t.Fatal(err)
		}
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755); err != nil {
		p.t.Fatal(err)
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		p.t.Fatal(err)
	}
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			os.Symlink("busybox", filepath.Join(root, "bin", a))
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/:/bin/sh\n"), 0o644); err != nil {
		p.t.Fatal(err)
	}
	tar := filepath.Join(p.dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", root, "-cf", tar, ".").CombinedOutput(); err != nil {
		p.t.Fatalf("tar: %v\n%s", err, out)
	}
	p.must("import", tar, name)
}

// TestPodmanAndDocker: podman (rootful, runc, CNI backend running
// loom-cni) starts a container on lab host h1, and a private dockerd with
// loom-docker a container on h2, both on switch blue, with addresses from
// loomd: they ping each other and move data over TCP across the hosts.
// Removing a container (CNI DEL, Docker's DeleteEndpoint) removes its
// veth and its port at loomd. loom-docker restarted keeps its networks
// (loomd holds them): a container started after the restart joins blue,
// and one connected with --driver-opt gets the address and name chosen.
func TestPodmanAndDocker(t *testing.T) {
	t.Parallel()
	start := time.Now()
	// The lab first: its cleanup (loomd stopped, lab down) runs after
	// the runtimes' (which remove any container left, through loom-cni
	// and loom-docker).
	cl := newContainerLab(t, "lm-t26-")
	p := newPodman(t, "lm-t26-")
	dk := newDockerd(t, "lm-t26-")
	drv := startDockerDriver(t, cl, "h2")
	p.image("lm-t26-busybox")
	dk.must("import", filepath.Join(p.dir, "rootfs.tar"), "lm-t26-busybox")
	conf := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "lm-t26-blue", "plugins": [
  {"type": "loom-cni", "switch": "blue", "host": "h1", "server": "http://127.0.0.1:9477",
   "hostNetns": "%sh1", "serverNetns": "%sctl"}]}`, cl.Prefix, cl.Prefix)
	if err := os.WriteFile(filepath.Join(p.dir, "cni", "lm-t26-blue.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := dk.run("network", "create", "-d", drv.name, "--ipam-driver", "null", "--opt", "switch=nosuch", "lm-t26-bad"); err == nil || !strings.Contains(out, `no switch named "nosuch"`) {
		t.Errorf("docker network create on an unknown switch: %v\n%s", err, out)
	}
	if out, err := dk.run("network", "create", "-d", drv.name, "--opt", "switch=blue", "--subnet", "10.99.0.0/24", "lm-t26-bad"); err == nil || !strings.Contains(out, "--ipam-driver null") {
		t.Errorf("docker network create with Docker's addresses: %v\n%s", err, out)
	}
	netID := dk.must("network", "create", "-d", drv.name, "--ipam-driver", "null", "--opt", "switch=blue", "lm-t26-blue")
	if n, err := cl.api.RuntimeNetwork(context.Background(), "docker", netID); err != nil || n.Switch != "blue" || n.Host != "h2" {
		t.Fatalf("loomd's runtime network for %s: %+v %v, want switch blue on h2", netID, n, err)
	}

	id1 := p.must("run", "-d", "--name", "lm-t26-c1", "--network", "lm-t26-blue", "lm-t26-busybox", "sleep", "300")
	dk.must("run", "-d", "--name", "lm-t26-d2", "--network", "lm-t26-blue", "lm-t26-busybox", "sleep", "300")
	ips := map[string]string{}
	runtimes := map[string]string{}
	for _, rp := range cl.runtimePorts() {
		ips[rp.ContainerID] = strings.TrimSuffix(rp.IPs[0], "/29")
		runtimes[rp.Runtime] = rp.ContainerID
	}
	ip1, ip2 := ips[id1], ips[runtimes["docker"]]
	if ip1 == "" || ip2 == "" || runtimes["cni"] != id1 {
		t.Fatalf("loomd's runtime ports (by container: %v, by runtime: %v) lack the containers", ips, runtimes)
	}
	if out := p.must("exec", "lm-t26-c1", "ip", "-o", "-4", "addr", "show", "eth0"); !strings.Contains(out, ip1+"/29") {
		t.Errorf("c1's eth0: %s, want %s", out, ip1)
	}
	if out := dk.must("exec", "lm-t26-d2", "ip", "-o", "-4", "addr", "show", "eth0"); !strings.Contains(out, ip2+"/29") {
		t.Errorf("d2's eth0: %s, want %s", out, ip2)
	}
	if out := dk.must("exec", "lm-t26-d2", "ip", "route"); !strings.Contains(out, "default via 10.24.0.1 dev eth0") {
		t.Errorf("d2's routes: %s, want the switch's gateway", out)
	}
	var out string
	var err error
	for range 5 {
		if out, err = p.run("exec", "lm-t26-c1", "ping", "-c", "1", "-W", "1", ip2); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("podman c1 pings docker d2 (%s): %v\n%s", ip2, err, out)
	}
	if out, err := dk.run("exec", "lm-t26-d2", "ping", "-c", "1", "-W", "1", ip1); err != nil {
		t.Fatalf("docker d2 pings podman c1 (%s): %v\n%s", ip1, err, out)
	}
	// TCP (tx checksum offload off on both veth ends).
	dk.must("exec", "-d", "lm-t26-d2", "sh", "-c", "nc -l -p 5000 > /tmp/got")
	waitFor(t, "d2 listens on 5000", 5*time.Second, func() bool {
		o, _ := dk.run("exec", "lm-t26-d2", "netstat", "-ltn")
		return strings.Contains(o, ":5000 ")
	})
	if out, err := p.run("exec", "lm-t26-c1", "sh", "-c", "echo hello-over-loom | nc -w 3 "+ip2+" 5000"); err != nil {
		t.Fatalf("c1 -> d2 over TCP: %v\n%s", err, out)
	}
	waitFor(t, "d2 got the data", 5*time.Second, func() bool {
		o, _ := dk.run("exec", "lm-t26-d2", "cat", "/tmp/got")
		return strings.Contains(o, "hello-over-loom")
	})

	// docker rm: DeleteEndpoint removes the veth and the port.
	ep2 := runtimes["docker"]
	dk.must("rm", "--force", "lm-t26-d2")
	if linkExists(cl.Prefix+"h2", plumb.HostVethName(ep2, "eth")) {
		t.Error("docker rm left d2's veth on h2")
	}
	if ps := cl.runtimePorts(); len(ps) != 1 || ps[0].ContainerID != id1 {
		t.Errorf("after docker rm d2, loomd's runtime ports: %+v", ps)
	}
	// The driver restarted keeps its networks.
	drv.stop()
	drv.start()
	dk.must("run", "-d", "--name", "lm-t26-d3", "--network", "lm-t26-blue", "lm-t26-busybox", "sleep", "300")
	var ip3 string
	for _, rp := range cl.runtimePorts() {
		if rp.Runtime == "docker" {
			ip3 = strings.TrimSuffix(rp.IPs[0], "/29")
		}
	}
	if ip3 == "" {
		t.Fatalf("d3 has no port at loomd: %+v", cl.runtimePorts())
	}
	for range 3 {
		if out, err = dk.run("exec", "lm-t26-d3", "ping", "-c", "1", "-W", "1", ip1); err == nil {
			break
		}
	}
	if err != nil {
		t.Errorf("d3 (after the driver's restart) pings c1: %v\n%s", err, out)
	}
	// Per-container choices through --driver-opt: d3 connected to a
	// network on switch red with an address and a port name chosen.
	dk.must("network", "create", "-d", drv.name, "--ipam-driver", "null", "--opt", "switch=red", "lm-t26-red")
	if out, err := dk.run("network", "connect", "--driver-opt", "vlan=7", "lm-t26-red", "lm-t26-d3"); err == nil || !strings.Contains(out, `unknown driver option "vlan"`) {
		t.Errorf("connect with an unknown driver option: %v\n%s", err, out)
	}
	dk.must("network", "connect", "--driver-opt", "ip=10.25.0.77", "--driver-opt", "name=lm-t26-pick", "lm-t26-red", "lm-t26-d3")
	picked := false
	for _, rp := range cl.runtimePorts() {
		if rp.Name == "lm-t26-pick" && rp.Switch == "red" && len(rp.IPs) == 1 && rp.IPs[0] == "10.25.0.77/24" && rp.IPsGiven {
			picked = true
		}
	}
	if !picked {
		t.Errorf("no runtime port lm-t26-pick with 10.25.0.77 after connect --driver-opt: %+v", cl.runtimePorts())
	}
	if out := dk.must("exec", "lm-t26-d3", "ip", "-o", "-4", "addr"); !strings.Contains(out, "10.25.0.77/24") {
		t.Errorf("d3's addresses after connect --driver-opt ip=10.25.0.77: %s", out)
	}
	dk.must("rm", "--force", "lm-t26-d3")
	dk.must("network", "rm", "lm-t26-red")
	if strings.Contains(drv.log.String(), `"msg":"gratuitous arp"`) {
		t.Errorf("loom-docker could not send a gratuitous ARP:\n%s", drv.log.String())
	}

	// podman rm: CNI DEL removes the veth and the port.
	p.must("rm", "--force", "--time", "0", "lm-t26-c1")
	if linkExists(cl.Prefix+"h1", plumb.HostVethName(id1, "eth0")) {
		t.Error("podman rm left c1's veth on h1")
	}
	if ps := cl.runtimePorts(); len(ps) != 0 {
		t.Errorf("after the containers are gone, loomd's runtime ports: %+v", ps)
	}
	dk.must("network", "rm", "lm-t26-blue")
	if ns, err := cl.api.RuntimeNetworks(context.Background()); err != nil || len(ns.Networks) != 0 {
		t.Errorf("loomd's runtime networks after docker network rm: %+v %v", ns, err)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}
