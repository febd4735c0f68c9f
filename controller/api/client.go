package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls loomd's API.
type Client struct {
	// Server is loomd's base address, e.g. http://127.0.0.1:9477.
	Server string
	// Token, if set, is sent as "Authorization: Bearer TOKEN".
	Token string
	// HTTP is the client used; nil means one made from TLS.
	HTTP *http.Client
	// TLS is used for https:// servers (client certificates for mTLS, the
	// CA that signed loomd's certificate) when HTTP is nil.
	TLS *tls.Config
}

// HTTPClient is the HTTP client c uses (made from TLS if HTTP is nil).
func (c *Client) HTTPClient() *http.Client { return c.http() }

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	if c.TLS == nil {
		return http.DefaultClient
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = c.TLS
	c.HTTP = &http.Client{Transport: tr}
	return c.HTTP
}

// do sends in (if not nil) as JSON and decodes a 2xx answer into out (if
// not nil); other answers become an *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("loomd %s %s: bad answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = b
	}
	for try := 1; ; try++ {
		resp, err := c.sendOnce(ctx, method, path, in != nil, body)
		wait, busy := retryAfter(err)
		if !busy || try == maxTries {
			return resp, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// maxTries bounds the tries of a call that loomd answers 503 (busy) with
// Retry-After: loomd refused it before doing anything, so it can be sent
// again, PUTs included.
const maxTries = 10

// retryAfter tells whether err is loomd's "busy, try again" and how long
// it asks to wait (at most 10s).
func retryAfter(err error) (time.Duration, bool) {
	var e *Error
	if !errors.As(err, &e) || e.Code != http.StatusServiceUnavailable || e.retryAfter <= 0 {
		return 0, false
	}
	return min(e.retryAfter, 10*time.Second), true
}

func (c *Client) sendOnce(ctx context.Context, method, path string, hasBody bool, body []byte) (*http.Response, error) {
	var r io.Reader
	if hasBody {
		r = bytes.NewReader(body)
	}
	base := strings.TrimSuffix(c.Server, "/")
	req, err := http.NewRequestWithContext(ctx, method, base+Prefix+path, r)
	if err != nil {
		return nil, err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("loomd at %s: %w (is it running? see --server)", c.Server, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &Error{}
	if json.Unmarshal(b, e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(resp.Status + ": " + string(b))
	}
	e.Code = resp.StatusCode
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.retryAfter = time.Duration(s) * time.Second
	}
	return nil, e
}

// Version returns loomd's version and its API's.
func (c *Client) Version(ctx context.Context) (*ServerVersion, error) {
	var v ServerVersion
	return &v, c.do(ctx, http.MethodGet, "version", nil, &v)
}

// Topology returns the stored topology.
func (c *Client) Topology(ctx context.Context) (*Topology, error) {
	var t Topology
	return &t, c.do(ctx, http.MethodGet, "topology", nil, &t)
}

// PutTopology replaces the stored topology.
func (c *Client) PutTopology(ctx context.Context, u TopologyUpdate) (*Applied, error) {
	var a Applied
	return &a, c.do(ctx, http.MethodPut, "topology", u, &a)
}

// Validate checks files without storing them.
func (c *Client) Validate(ctx context.Context, files map[string]string) (*Validation, error) {
	var v Validation
	return &v, c.do(ctx, http.MethodPost, "validate", Files{Files: files}, &v)
}

// Plan asks what every host would need for files; nil files mean the
// stored topology.
func (c *Client) Plan(ctx context.Context, files map[string]string) (*Plan, error) {
	var p Plan
	return &p, c.do(ctx, http.MethodPost, "plan", Files{Files: files}, &p)
}

// PlanFiles is Plan with the request's options (Force).
func (c *Client) PlanFiles(ctx context.Context, f Files) (*Plan, error) {
	var p Plan
	return &p, c.do(ctx, http.MethodPost, "plan", f, &p)
}

// Status returns every host's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	return &s, c.do(ctx, http.MethodGet, "status", nil, &s)
}

// Watch calls fn with each event of the status stream, the snapshot
// first, until ctx ends, fn returns an error (returned, except ErrStop)
// or loomd closes the stream.
func (c *Client) Watch(ctx context.Context, fn func(Event) error) error {
	resp, err := c.send(ctx, http.MethodGet, "status?watch=true", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue // keep-alive
		}
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("loomd status stream: %w", err)
		}
		if err := fn(ev); err != nil {
			if err == ErrStop {
				return nil
			}
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("loomd status stream: %w", err)
	}
	return ErrStreamClosed
}

// ErrStreamClosed is Watch's error when loomd ends the stream: it stops, or
// it cut off a watcher that fell behind (watch again).
var ErrStreamClosed = errors.New("loomd closed the status stream")

// ErrStop, returned by a Watch callback, ends the watch without error.
var ErrStop = fmt.Errorf("stop watching")

// Interfaces returns what host's OVS last reported of its bridge.
func (c *Client) Interfaces(ctx context.Context, host string) (*HostInterfaces, error) {
	var h HostInterfaces
	return &h, c.do(ctx, http.MethodGet, "hosts/"+url.PathEscape(host)+"/interfaces", nil, &h)
}

// Flows returns the flows of host's switch, explained, and the drift.
func (c *Client) Flows(ctx context.Context, host string) (*HostFlows, error) {
	var f HostFlows
	return &f, c.do(ctx, http.MethodGet, "hosts/"+url.PathEscape(host)+"/flows", nil, &f)
}
