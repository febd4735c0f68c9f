package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireDocker skips (or, in CI, fails) when dockerd is missing
// (.ci/run installs docker.io).
func requireDocker(t *testing.T) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"dockerd", "/usr/bin/docker", "containerd", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("the docker test needs %s (apt-get install docker.io runc)", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// dockerd is a private Docker daemon (its own data root, exec root,
// socket and pidfile; no bridge, no iptables), as DESIGN.md says Docker
// runs here.
type dockerd struct {
	t    *testing.T
	dir  string
	sock string
	cmd  *exec.Cmd
	log  *syncBuffer
}

func newDockerd(t *testing.T, prefix string) *dockerd {
	t.Helper()
	requireDocker(t)
	dir, err := os.MkdirTemp("", prefix+"docker")
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerd{t: t, dir: dir, sock: filepath.Join(dir, "docker.sock"), log: &syncBuffer{}}
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command("dockerd", "--config-file", filepath.Join(dir, "daemon.json"), "--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"), "--pidfile", filepath.Join(dir, "docker.pid"), "-H", "unix://"+d.sock,
		"--storage-driver", "vfs", "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false")
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := d.run("rm", "--force", "--volumes", "lm-t26-d2", "lm-t26-d3"); err != nil && !strings.Contains(out, "No such container") {
			t.Logf("docker rm: %v\n%s", err, out)
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			d.cmd.Process.Kill()
			<-done
			t.Error("dockerd did not stop on SIGTERM within 15s")
		}
		if t.Failed() {
			t.Logf("dockerd log:\n%s", d.log.String())
		}
		os.RemoveAll(dir)
	})
	waitFor(t, "dockerd answers", 20*time.Second, func() bool {
		_, err := d.run("version")
		return err == nil
	})
	return d
}

// run runs Debian's docker client (a newer one may come first in PATH)
// against the private daemon.
func (d *dockerd) run(args ...string) (string, error) {
	out, err := exec.Command("/usr/bin/docker", append([]string{"-H", "unix://" + d.sock}, args...)...).CombinedOutput()
	return string(out), err
}

func (d *dockerd) must(args ...string) string {
	d.t.Helper()
	out, err := d.run(args...)
	if err != nil {
		d.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// dockerDriver is loom-docker serving one lab host, its socket in
// /run/docker/plugins (where dockerd looks) named PREFIX+loom-HOST.
type dockerDriver struct {
	t    *testing.T
	name string
	args []string
	cmd  *exec.Cmd
	log  *syncBuffer
}

func startDockerDriver(t *testing.T, cl *containerLab, host string) *dockerDriver {
	t.Helper()
	dd := &dockerDriver{t: t, name: cl.Prefix + "loom-" + host, log: &syncBuffer{}}
	dd.args = []string{"--socket", "/run/docker/plugins/" + dd.name + ".sock", "--host", host, "--host-netns", cl.Prefix + host,
		"--server-netns", cl.Prefix + "ctl", "--veth-prefix", cl.Prefix}
	dd.start()
	t.Cleanup(dd.stop)
	return dd
}

func (dd *dockerDriver) start() {
	dd.t.Helper()
	dd.cmd = exec.Command(binary(dd.t, "loom-docker"), dd.args...)
	dd.cmd.Stdout, dd.cmd.Stderr = dd.log, dd.log
	if err := dd.cmd.Start(); err != nil {
		dd.t.Fatal(err)
	}
	waitFor(dd.t, "loom-docker listens", 10*time.Second, func() bool {
		return bytes.Contains([]byte(dd.log.String()), []byte("loom-docker serving"))
	})
}

func (dd *dockerDriver) stop() {
	if dd.cmd == nil || dd.cmd.ProcessState != nil {
		return
	}
	dd.cmd.Process.Signal(syscall.SIGTERM)
	dd.cmd.Wait()
	if dd.t.Failed() {
		dd.t.Logf("%s log:\n%s", dd.name, dd.log.String())
	}
}
