package e2e

import (
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

// TestPodmanCNI: podman (rootful, runc, CNI backend) starts two
// containers on two lab hosts, on networks whose conflist runs loom-cni
// for switch blue; they get addresses from loomd, ping each other and
// move data over TCP across the hosts; removing a container (CNI DEL)
// removes its veth and its port at loomd.
func TestPodmanCNI(t *testing.T) {
	t.Parallel()
	start := time.Now()
	// The lab first: its cleanup (loomd stopped, lab down) runs after
	// podman's (which removes any container left, through loom-cni).
	cl := newContainerLab(t, "lm-t26-")
	p := newPodman(t, "lm-t26-")
	p.image("lm-t26-busybox")
	for _, h := range []string{"h1", "h2"} {
		conf := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "lm-t26-blue-%s", "plugins": [
  {"type": "loom-cni", "switch": "blue", "host": "%s", "server": "http://127.0.0.1:9477",
   "hostNetns": "%s%s", "serverNetns": "%sctl"}]}`, h, h, cl.Prefix, h, cl.Prefix)
		if err := os.WriteFile(filepath.Join(p.dir, "cni", "lm-t26-blue-"+h+".conflist"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	id1 := p.must("run", "-d", "--name", "lm-t26-c1", "--network", "lm-t26-blue-h1", "lm-t26-busybox", "sleep", "300")
	id2 := p.must("run", "-d", "--name", "lm-t26-c2", "--network", "lm-t26-blue-h2", "lm-t26-busybox", "sleep", "300")
	ips := map[string]string{}
	for _, rp := range cl.runtimePorts() {
		ips[rp.ContainerID] = strings.TrimSuffix(rp.IPs[0], "/29")
		if rp.Runtime != "cni" {
			t.Errorf("runtime port %+v: runtime %q, want cni", rp, rp.Runtime)
		}
	}
	ip1, ip2 := ips[id1], ips[id2]
	if ip1 == "" || ip2 == "" {
		t.Fatalf("loomd's runtime ports %v lack the containers %s, %s", ips, id1, id2)
	}
	if out := p.must("exec", "lm-t26-c1", "ip", "-o", "-4", "addr", "show", "eth0"); !strings.Contains(out, ip1+"/29") {
		t.Errorf("c1's eth0: %s, want %s", out, ip1)
	}
	var out string
	var err error
	for range 5 {
		if out, err = p.run("exec", "lm-t26-c1", "ping", "-c", "1", "-W", "1", ip2); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("c1 pings c2 (%s): %v\n%s", ip2, err, out)
	}
	// TCP (tx checksum offload off on both veth ends).
	p.must("exec", "-d", "lm-t26-c2", "sh", "-c", "nc -l -p 5000 > /tmp/got")
	waitFor(t, "c2 listens on 5000", 5*time.Second, func() bool {
		o, _ := p.run("exec", "lm-t26-c2", "netstat", "-ltn")
		return strings.Contains(o, ":5000 ")
	})
	if out, err := p.run("exec", "lm-t26-c1", "sh", "-c", "echo hello-over-loom | nc -w 3 "+ip2+" 5000"); err != nil {
		t.Fatalf("c1 -> c2 over TCP: %v\n%s", err, out)
	}
	waitFor(t, "c2 got the data", 5*time.Second, func() bool {
		o, _ := p.run("exec", "lm-t26-c2", "cat", "/tmp/got")
		return strings.Contains(o, "hello-over-loom")
	})

	// podman rm: CNI DEL removes the veth and the port.
	p.must("rm", "--force", "--time", "0", "lm-t26-c1")
	if linkExists(cl.Prefix+"h1", plumb.HostVethName(id1, "eth0")) {
		t.Error("podman rm left c1's veth on h1")
	}
	if ps := cl.runtimePorts(); len(ps) != 1 || ps[0].ContainerID != id2 {
		t.Errorf("after podman rm c1, loomd's runtime ports: %+v", ps)
	}
	p.must("rm", "--force", "--time", "0", "lm-t26-c2")
	if ps := cl.runtimePorts(); len(ps) != 0 {
		t.Errorf("after podman rm c2, loomd's runtime ports: %+v", ps)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}
