package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// loomdBin is a loomd built for the scripts, once.
var loomdBin string

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"loomctl": func() { os.Exit(loomctlMain()) }})
}

// TestScripts runs testdata/script/*.txtar: loomctl's commands against a
// real loomd on a random loopback port, with topologies whose hosts
// refuse connections (loomd and loomctl must say so). The commands that
// need a real switch are exercised by e2e/quickstart_test.go.
func TestScripts(t *testing.T) {
	if loomdBin == "" {
		dir := t.TempDir()
		loomdBin = filepath.Join(dir, "loomd")
		out, err := exec.Command("go", "build", "-o", loomdBin, "../loomd").CombinedOutput()
		if err != nil {
			t.Fatalf("build loomd: %v\n%s", err, out)
		}
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("NO_COLOR", "1")
			e.Setenv("LOOM_CONFIG", filepath.Join(e.WorkDir, "no-loomctl.yaml"))
			e.Setenv("EXAMPLES", mustAbs("../../deploy/examples"))
			e.Setenv("LOOMD", loomdBin)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"loomd": cmdLoomd,
		},
	})
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

// cmdLoomd is the scripts' loomd command:
//
//	loomd start [FLAG...]   start loomd on 127.0.0.1:0 with its state in
//	                        $WORK/state; LOOM_SERVER then points at it
//	loomd stop              SIGTERM, and wait for it to exit
//	loomd kill              SIGKILL, as a crash
//	loomd log               print its log so far to stdout
func cmdLoomd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: loomd start|stop|kill|log")
	}
	switch args[0] {
	case "start":
		ts.Check(os.WriteFile(ts.MkAbs("no-loomd.yaml"), []byte("{}\n"), 0o644))
		addr := ts.MkAbs("loomd.addr")
		os.Remove(addr)
		logf, err := os.OpenFile(ts.MkAbs("loomd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		ts.Check(err)
		cmd := exec.Command(loomdBin, append([]string{"--config", ts.MkAbs("no-loomd.yaml"),
			"--listen", "127.0.0.1:0", "--address-file", addr, "--state-dir", ts.MkAbs("state"),
			"--log-format", "console", "--probe-interval", "1s", "--backoff-max", "2s"}, args[1:]...)...)
		cmd.Dir = ts.Getenv("WORK")
		cmd.Stdout, cmd.Stderr = logf, logf
		ts.Check(cmd.Start())
		setProc(ts, cmd)
		ts.Defer(func() {
			if getProc(ts) == cmd {
				cmd.Process.Kill()
				cmd.Wait()
			}
			logf.Close()
		})
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, err := os.ReadFile(addr)
			if err == nil && strings.HasSuffix(string(b), "\n") {
				ts.Setenv("LOOM_SERVER", "http://"+strings.TrimSpace(string(b)))
				return
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(ts.MkAbs("loomd.log"))
				ts.Fatalf("loomd did not listen within 10s:\n%s", log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	case "stop", "kill":
		cmd := getProc(ts)
		if cmd == nil {
			ts.Fatalf("loomd is not running")
		}
		sig := syscall.SIGTERM
		if args[0] == "kill" {
			sig = syscall.SIGKILL
		}
		ts.Check(cmd.Process.Signal(sig))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if sig == syscall.SIGTERM && err != nil {
				ts.Fatalf("loomd exited with %v on SIGTERM", err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			ts.Fatalf("loomd did not stop within 15s of SIGTERM")
		}
		setProc(ts, nil)
	case "log":
		b, err := os.ReadFile(ts.MkAbs("loomd.log"))
		ts.Check(err)
		fmt.Fprint(ts.Stdout(), string(b))
	default:
		ts.Fatalf("loomd %s: want start, stop, kill or log", args[0])
	}
}

// procs are the running loomds, by script (scripts run in parallel, each
// with its own loomd; a script's commands run one at a time).
var (
	procsMu sync.Mutex
	procs   = map[*testscript.TestScript]*exec.Cmd{}
)

func getProc(ts *testscript.TestScript) *exec.Cmd {
	procsMu.Lock()
	defer procsMu.Unlock()
	return procs[ts]
}

func setProc(ts *testscript.TestScript, c *exec.Cmd) {
	procsMu.Lock()
	defer procsMu.Unlock()
	if c == nil {
		delete(procs, ts)
	} else {
		procs[ts] = c
	}
}
