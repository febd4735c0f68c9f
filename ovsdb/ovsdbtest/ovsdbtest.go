package ovsdbtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SchemaPath is the Open_vSwitch schema of the installed OVS.
const SchemaPath = "/usr/share/openvswitch/vswitch.ovsschema"

// Server is a private ovsdb-server.
type Server struct {
	Dir  string // holds conf.db, db.sock, logs, pidfiles
	Addr string // "unix:DIR/db.sock", for ovsdb.Dial and ovs-vsctl --db
	env  []string
}

// Start starts a private ovsdb-server with an initialised database and
// returns its address ("unix:PATH").
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).Addr
}

// StartServer is Start, returning the Server for the helpers below.
func StartServer(t testing.TB) *Server {
	t.Helper()
	return StartServerArgs(t)
}

// StartServerArgs is StartServer with more ovsdb-server arguments, e.g.
// another remote and its SSL files (--remote=pssl:0:127.0.0.1
// --private-key=... --certificate=... --ca-cert=...; see ListeningPort).
func StartServerArgs(t testing.TB, args ...string) *Server {
	t.Helper()
	require(t, "ovsdb-tool", "ovsdb-server", "ovs-vsctl")
	if _, err := os.Stat(SchemaPath); err != nil {
		missing(t, fmt.Sprintf("OVS schema: %v", err))
	}
	dir, err := os.MkdirTemp("/tmp", "lmo")
	if err != nil {
		t.Fatalf("ovsdbtest: %v", err)
	}
	s := &Server{Dir: dir, Addr: "unix:" + filepath.Join(dir, "db.sock")}
	s.env = append(os.Environ(),
		"OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir,
		"OVS_SYSCONFDIR="+dir, "OVS_PKGDATADIR=/usr/share/openvswitch")
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
			return
		}
		t.Logf("ovsdbtest: kept %s for inspection", dir)
	})

	s.run(t, "ovsdb-tool", "create", filepath.Join(dir, "conf.db"), SchemaPath)
	pidfile := filepath.Join(dir, "ovsdb-server.pid")
	s.run(t, "ovsdb-server", append([]string{filepath.Join(dir, "conf.db"),
		"--remote=punix:" + filepath.Join(dir, "db.sock"),
		"--pidfile=" + pidfile,
		"--unixctl=" + filepath.Join(dir, "ovsdb-server.ctl"),
		"--log-file=" + filepath.Join(dir, "ovsdb-server.log"),
		"-vconsole:off", "--no-chdir", "--detach"}, args...)...)
	// --detach returns once the server listens; the pidfile is written by then.
	t.Cleanup(func() { killPidfile(t, pidfile) })
	s.Vsctl(t, "init")
	return s
}

// ListeningPort is the port of the server's remote that was given port 0
// (ptcp:0:IP or pssl:0:IP), as its log says. With several, the first.
func (s *Server) ListeningPort(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir, "ovsdb-server.log"))
	if err != nil {
		t.Fatalf("ovsdbtest: %v", err)
	}
	m := listeningRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("ovsdbtest: no listening port in ovsdb-server.log:\n%s", b)
	}
	port, _ := strconv.Atoi(string(m[1]))
	return port
}

var listeningRE = regexp.MustCompile(`listening on port (\d+)`)

// Env is the environment for OVS commands aimed at this server's daemons.
func (s *Server) Env() []string { return s.env }

// Vsctl runs ovs-vsctl --no-wait on the server and returns its trimmed
// output; it fails the test on error.
func (s *Server) Vsctl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.VsctlErr(args...)
	if err != nil {
		t.Fatalf("ovsdbtest: %v", err)
	}
	return out
}

// VsctlErr is Vsctl returning the error instead.
func (s *Server) VsctlErr(args ...string) (string, error) {
	full := append([]string{"--db=" + s.Addr, "--no-wait", "--timeout=10"}, args...)
	cmd := command("ovs-vsctl", full...)
	cmd.Env = s.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("ovs-vsctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// StartVswitchd starts an ovs-vswitchd on the server, inside a new network
// namespace (unshare --net) so that the taps of a netdev datapath, and any
// other device it creates, touch nothing outside the test; the namespace
// goes away with the daemon. Use datapath_type netdev. Bridges are
// removed with `ovs-appctl exit --cleanup`, then the daemon is killed by pid.
func (s *Server) StartVswitchd(t testing.TB) {
	t.Helper()
	require(t, "ovs-vswitchd", "ovs-appctl", "unshare")
	pidfile := filepath.Join(s.Dir, "ovs-vswitchd.pid")
	ctl := filepath.Join(s.Dir, "ovs-vswitchd.ctl")
	vswitchd, _ := lookPath("ovs-vswitchd")
	s.run(t, "unshare", "--net", "--",
		vswitchd, s.Addr,
		"--pidfile="+pidfile,
		"--unixctl="+ctl,
		"--log-file="+filepath.Join(s.Dir, "ovs-vswitchd.log"),
		"-vconsole:off", "--no-chdir", "--detach")
	t.Cleanup(func() {
		cmd := command("ovs-appctl", "-t", ctl, "--timeout=5", "exit", "--cleanup")
		cmd.Env = s.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("ovsdbtest: ovs-vswitchd exit: %v: %s", err, out)
		}
		killPidfile(t, pidfile)
	})
}

// InVswitchd runs a command (e.g. ip link add ...) in the network
// namespace of the ovs-vswitchd started by StartVswitchd, where the
// devices of its system interfaces live, and returns its output.
func (s *Server) InVswitchd(t testing.TB, args ...string) string {
	t.Helper()
	require(t, "nsenter")
	b, err := os.ReadFile(filepath.Join(s.Dir, "ovs-vswitchd.pid"))
	if err != nil {
		t.Fatalf("ovsdbtest: no ovs-vswitchd (StartVswitchd first): %v", err)
	}
	pid := strings.TrimSpace(string(b))
	out, err := command("nsenter", append([]string{"-t", pid, "-n", "--"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ovsdbtest: in ovs-vswitchd's namespace: %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (s *Server) run(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := command(name, args...)
	cmd.Env = s.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ovsdbtest: %s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

func require(t testing.TB, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := lookPath(c); err != nil {
			missing(t, err.Error())
		}
	}
}

// lookPath finds an OVS command in PATH or, since the daemons live in sbin
// and a non-root PATH often lacks it, in the sbin directories.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH nor in /usr/sbin, /usr/local/sbin, /sbin", name)
}

// command is exec.Command with the OVS command resolved by lookPath.
func command(name string, args ...string) *exec.Cmd {
	if p, err := lookPath(name); err == nil {
		name = p
	}
	return exec.Command(name, args...)
}

func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("ovsdbtest: Open vSwitch is required in CI: %s", why)
	}
	t.Skipf("ovsdbtest: Open vSwitch not installed: %s", why)
}

// killPidfile stops the daemon whose pid is in pidfile (if it still runs)
// and waits up to 5 s for it to go. A detached daemon is not our child, so
// it is polled with signal 0.
func killPidfile(t testing.TB, pidfile string) {
	t.Helper()
	b, err := os.ReadFile(pidfile)
	if errors.Is(err, os.ErrNotExist) {
		return // exited cleanly and removed its pidfile
	}
	if err != nil {
		t.Logf("ovsdbtest: %v", err)
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Logf("ovsdbtest: bad pidfile %s: %q", pidfile, b)
		return
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return // already gone
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("ovsdbtest: pid %d survived SIGTERM, sending SIGKILL", pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// alive reports whether pid runs. A detached daemon that exited stays a
// zombie until its new parent reaps it, and signal 0 still reaches a
// zombie: read its state instead.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// pid (comm) STATE ...; comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return true
	}
	return b[i+2] != 'Z' && b[i+2] != 'X'
}
