package ofctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// A bundle through ovs-ofctl costs a process, its connection to the
// switch and the OpenFlow handshake before the first flow mod goes out;
// on a busy switch (ovs-vswitchd's main loop polling hundreds of ports)
// each round trip is several ms, on a busy machine each step waits for a
// core. ovs-ofctl --bundle add-flows connects first and reads its flows
// after (from stdin): a Spare is such a process started ahead of the
// bundle that will use it, connected and waiting. Apply hands it the
// bundle's flows when it has one for the same command; otherwise it
// starts ovs-ofctl as usual.
//
// A spare lives SpareLife at most (killed then, unused): the switch probes
// an idle connection after 5 s (a Controller's inactivity_probe), which a
// process blocked on its input does not answer.

// SpareLife is how long a spare process waits for its bundle.
var SpareLife = 4 * time.Second

// Spare holds at most one spare bundle process for one switch. The zero
// value is ready; it is safe for concurrent use.
type Spare struct {
	mu sync.Mutex
	p  *spareProc
	// Until until, an expired spare is replaced by a new one (Keep).
	until  time.Time
	client *Client
	// wire is Loom's own OpenFlow connection to the switch (wire.go),
	// for plain targets instead of a spare process.
	wmu  sync.Mutex
	wire *wireConn
	// noWire: ovs-ofctl processes only (the tests of the processes).
	noWire bool
}

// Keep keeps a spare process waiting for c's bundles for d: each one
// that expires unused is replaced. A host that changes often pays one
// ovs-ofctl every SpareLife for bundles that start at once; one that
// stopped changing, nothing after d.
func (s *Spare) Keep(c *Client, d time.Duration) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.until, s.client = time.Now().Add(d), c
	s.mu.Unlock()
	s.Start(c)
}

// expired replaces p, expired unused, if the Spare is kept.
func (s *Spare) expired(p *spareProc) {
	p.kill()
	s.mu.Lock()
	renew := s.p == p && time.Now().Before(s.until) && s.client != nil
	if s.p == p {
		s.p = nil
	}
	c := s.client
	s.mu.Unlock()
	if renew {
		s.Start(c)
	}
}

type spareProc struct {
	args   []string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    bytes.Buffer
	errb   bytes.Buffer
	done   chan struct{} // closed when the process has ended
	err    error         // its Wait's, once done
	expire *time.Timer
}

// Start starts a spare process for the bundles of c, unless one is
// waiting already. It does not wait for it to connect.
func (s *Spare) Start(c *Client) {
	if s == nil {
		return
	}
	if s.startWire(c.target) {
		return
	}
	args, err := c.bundleArgs()
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.p; p != nil {
		select {
		case <-p.done:
		default:
			if slices.Equal(p.args, args) {
				return
			}
			p.kill()
		}
		s.p = nil
	}
	p := &spareProc{args: args, done: make(chan struct{})}
	p.cmd = exec.Command(ofctlBin, args...)
	dieWithParent(p.cmd)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errb
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return
	}
	if err := p.cmd.Start(); err != nil {
		return
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	p.expire = time.AfterFunc(SpareLife, func() { s.expired(p) })
	s.p = p
}

// Stop ends the spare process, if any.
func (s *Spare) Stop() {
	if s == nil {
		return
	}
	s.mu.Lock()
	p := s.p
	s.p, s.until, s.client = nil, time.Time{}, nil
	s.mu.Unlock()
	s.stopWire()
	if p != nil {
		p.expire.Stop()
		p.kill()
	}
}

func (p *spareProc) kill() {
	p.stdin.Close()
	p.cmd.Process.Kill() //nolint:errcheck // it may have ended already
}

// take returns the spare process for args, if one waits (it is then no
// longer the Spare's).
func (s *Spare) take(args []string) *spareProc {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.p
	if p == nil || !slices.Equal(p.args, args) {
		return nil
	}
	s.p = nil
	select {
	case <-p.done:
		return nil // it failed to connect, or expired
	default:
	}
	if !p.expire.Stop() {
		return nil // expiring right now
	}
	return p
}

// errSpareUnused: the spare process ended before it read its flows
// (e.g. the switch dropped the idle connection): run ovs-ofctl anew.
var errSpareUnused = errors.New("spare ovs-ofctl ended before its bundle")

// run feeds stdin to the process and waits for it, as run does for a
// process it starts.
func (p *spareProc) run(ctx context.Context, stdin io.Reader) ([]byte, error) {
	stop := context.AfterFunc(ctx, p.kill)
	defer stop()
	_, werr := io.Copy(p.stdin, stdin)
	cerr := p.stdin.Close()
	<-p.done
	if p.err == nil {
		return p.out.Bytes(), nil
	}
	if werr != nil || cerr != nil {
		// It ended before it took its flows: nothing was sent.
		return nil, errSpareUnused
	}
	msg := strings.TrimPrefix(strings.TrimSpace(p.errb.String()), "ovs-ofctl: ")
	var ee *exec.ExitError
	if errors.As(p.err, &ee) && ctx.Err() == nil {
		if strings.Contains(msg, "connection dropped") || strings.Contains(msg, "Broken pipe") ||
			strings.Contains(msg, "End of file") {
			return nil, errSpareUnused // the connection was gone: the bundle never reached the switch
		}
		return p.out.Bytes(), &ExitError{Code: ee.ExitCode(), Msg: msg}
	}
	return p.out.Bytes(), fmt.Errorf("ovs-ofctl %s: %w", p.args[0], p.err)
}
