package ofctl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/loom-sdn/loom/flows"
)

// Client talks OpenFlow 1.3 to one bridge's listener.
type Client struct {
	target string // tcp:ADDR:PORT or ssl:ADDR:PORT
	ssl    *SSL
}

// SSL names the PEM files ovs-ofctl uses on an ssl: target: the
// controller's private key and certificate, and the CA certificate that
// signed the switch's certificate (OVS checks the chain, not the name).
type SSL struct {
	PrivateKey, Certificate, CACert string
}

// Option configures a Client.
type Option func(*Client)

// WithSSL gives the client the files for ssl: targets (ignored for tcp:).
func WithSSL(files SSL) Option {
	return func(c *Client) { c.ssl = &files }
}

// New returns a client of the listener at target ("tcp:ADDR:PORT", or
// "ssl:ADDR:PORT" with WithSSL).
func New(target string, opts ...Option) *Client {
	c := &Client{target: target}
	for _, o := range opts {
		o(c)
	}
	return c
}

// sslArgs are the ovs-ofctl options that every command on the target needs:
// the key, certificate and CA certificate for an ssl: target, none for tcp:.
func (c *Client) sslArgs() ([]string, error) {
	if !strings.HasPrefix(c.target, "ssl:") {
		return nil, nil
	}
	if c.ssl == nil || c.ssl.PrivateKey == "" || c.ssl.Certificate == "" || c.ssl.CACert == "" {
		return nil, fmt.Errorf("openflow %s: an ssl: target needs a private key, a certificate and a CA certificate", c.target)
	}
	return []string{"--private-key=" + c.ssl.PrivateKey, "--certificate=" + c.ssl.Certificate, "--ca-cert=" + c.ssl.CACert}, nil
}

// run runs ovs-ofctl on the target: args, then the SSL options if any.
func (c *Client) run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	ssl, err := c.sslArgs()
	if err != nil {
		return nil, err
	}
	return run(ctx, stdin, append(args, ssl...)...)
}

// ofctlBin is the program run; tests swap in a fake.
var ofctlBin = "ovs-ofctl"

func run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, ofctlBin, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimPrefix(strings.TrimSpace(errb.String()), "ovs-ofctl: ")
		var ee *exec.ExitError
		if errors.As(err, &ee) && ctx.Err() == nil {
			return out.Bytes(), &ExitError{Code: ee.ExitCode(), Msg: msg}
		}
		return out.Bytes(), fmt.Errorf("ovs-ofctl %s: %w", args[0], err)
	}
	return out.Bytes(), nil
}

// ExitError is ovs-ofctl's failure, with what it said.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("ovs-ofctl: exit status %d", e.Code)
	}
	return "ovs-ofctl: " + e.Msg
}

// runLines runs ovs-ofctl and hands each line of its output to fn as it
// comes (so that it is read while ovs-ofctl still prints). started, if
// set, runs once ovs-ofctl has started, before its output is read (while
// it connects: a moment to prepare).
func runLines(ctx context.Context, args []string, started func(), fn func(line []byte) error) error {
	cmd := exec.CommandContext(ctx, ofctlBin, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ovs-ofctl %s: %w", args[0], err)
	}
	if started != nil {
		started()
	}
	br := bufio.NewReaderSize(out, 256<<10)
	var ferr error
	for {
		line, rerr := br.ReadSlice('\n')
		if rerr == bufio.ErrBufferFull {
			// A line longer than the buffer: collect it whole.
			long := append([]byte(nil), line...)
			for rerr == bufio.ErrBufferFull {
				line, rerr = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 && ferr == nil {
			ferr = fn(bytes.TrimRight(line, "\r\n"))
		}
		if rerr != nil {
			break
		}
	}
	io.Copy(io.Discard, out) //nolint:errcheck // drain: ovs-ofctl must not block on a full pipe
	err = cmd.Wait()
	if err != nil {
		msg := strings.TrimPrefix(strings.TrimSpace(errb.String()), "ovs-ofctl: ")
		var ee *exec.ExitError
		if errors.As(err, &ee) && ctx.Err() == nil {
			return &ExitError{Code: ee.ExitCode(), Msg: msg}
		}
		return fmt.Errorf("ovs-ofctl %s: %w", args[0], err)
	}
	return ferr
}

// Dump reads the flows in Loom's cookie space from the switch, parsing
// each line as ovs-ofctl prints it. Other flows on the bridge are never
// read.
func (c *Client) Dump(ctx context.Context) (*Observed, error) {
	ssl, err := c.sslArgs()
	if err != nil {
		return nil, err
	}
	obs := &Observed{}
	if err := runLines(ctx, c.dumpArgs(ssl), nil, obs.add); err != nil {
		return nil, fmt.Errorf("dump flows of %s: %w", c.target, err)
	}
	return obs, nil
}

func (c *Client) dumpArgs(ssl []string) []string {
	return append([]string{"-O", "OpenFlow13", "--no-names", "dump-flows", c.target, cookieSpace, "--no-stats"}, ssl...)
}

// compare dumps the switch's flows and compares each with the desired
// ones as it arrives (ix indexes desired; nil: built at the first flow):
// when the dump ends, only what is left to plan remains. It returns the
// index it used (nil if the switch holds no flow), and how many flows the
// switch holds.
func (c *Client) compare(ctx context.Context, desired []flows.Flow, ix *flows.Index) (p *Plan, used *flows.Index, n int, err error) {
	ssl, err := c.sslArgs()
	if err != nil {
		return nil, nil, 0, err
	}
	held := make([]bool, len(desired))
	var extra []flows.Flow
	var unknown []Unknown
	err = runLines(ctx, c.dumpArgs(ssl), nil, func(line []byte) error {
		f, u, ok, err := parseDumpLine(line)
		switch {
		case err != nil || !ok:
			return err
		case u != nil:
			n++
			unknown = append(unknown, *u)
			return nil
		}
		n++
		if ix == nil {
			ix = flows.NewIndex(desired)
		}
		if k := ix.Find(&f); k >= 0 && !held[k] {
			held[k] = true
		} else {
			extra = append(extra, f)
		}
		return nil
	})
	if err != nil {
		return nil, nil, n, fmt.Errorf("dump flows of %s: %w", c.target, err)
	}
	if n == 0 {
		return PlanEmpty(desired), nil, 0, nil
	}
	p, err = planFrom(desired, held, extra, unknown)
	return p, ix, n, err
}

// cookieSpace is the match on Loom's cookie space.
var cookieSpace = fmt.Sprintf("cookie=%#x/%#x", flows.CookieSpace, flows.CookieMask)

var flowCountRE = regexp.MustCompile(`flow_count=(\d+)`)

// FlowCount is how many flows in Loom's cookie space the switch holds: a
// cheap probe (no flow is transferred) for a switch that lost its flows,
// e.g. after ovs-vswitchd restarted.
func (c *Client) FlowCount(ctx context.Context) (int, error) {
	out, err := c.run(ctx, nil, "-O", "OpenFlow13", "--no-names", "dump-aggregate", c.target, cookieSpace)
	if err != nil {
		return 0, fmt.Errorf("count flows of %s: %w", c.target, err)
	}
	m := flowCountRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("count flows of %s: no flow_count in %q", c.target, out)
	}
	return strconv.Atoi(string(m[1]))
}

// WaitReady waits until the listener answers, for a bridge just created.
func (c *Client) WaitReady(ctx context.Context) error {
	if _, err := c.sslArgs(); err != nil {
		return err // no use retrying
	}
	for {
		_, err := c.run(ctx, nil, "-O", "OpenFlow13", "--timeout=2", "show", c.target)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("openflow listener %s: %w (last error: %v)", c.target, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
