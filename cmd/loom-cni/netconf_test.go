package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/plumb"
)

func hostnameIs(h string) func() (string, error) { return func() (string, error) { return h, nil } }

func TestLoadNetConf(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		check      func(*NetConf) string
		code       uint
		wantErr    []string
	}{
		{name: "defaults", conf: `{"cniVersion": "1.0.0", "name": "blue", "type": "loom-cni"}`,
			check: func(c *NetConf) string {
				if c.Switch != "blue" || c.Server != defaultServer || c.Host != "node7" || c.HostNetns != "" || c.ServerNetns != "" || c.readyTimeout != 5*time.Second {
					return fmt.Sprintf("%+v", c)
				}
				return ""
			}},
		{name: "all set", conf: `{"cniVersion": "1.0.0", "name": "net", "type": "loom-cni", "switch": "red", "server": "https://loomd:9477",
  "tokenFile": "/etc/loom/token", "host": "h2", "hostNetns": "lm-h2", "serverNetns": "/var/run/netns/ctl", "readyTimeout": "0",
  "runtimeConfig": {"ips": ["10.0.0.5/24"], "mac": "02:00:00:00:00:05"}}`,
			check: func(c *NetConf) string {
				if c.Switch != "red" || c.Server != "https://loomd:9477" || c.Host != "h2" || c.HostNetns != "/run/netns/lm-h2" ||
					c.ServerNetns != "/var/run/netns/ctl" || c.readyTimeout != 0 || c.TokenFile != "/etc/loom/token" {
					return fmt.Sprintf("%+v", c)
				}
				r := c.request("abc", "/run/netns/x", "eth0", cniArgs{})
				if len(r.IPs) != 1 || r.IPs[0] != "10.0.0.5" || r.MAC != "02:00:00:00:00:05" || r.Runtime != api.RuntimeCNI {
					return fmt.Sprintf("request %+v", r)
				}
				// CNI_ARGS win over runtimeConfig.
				r = c.request("abc", "/run/netns/x", "eth0", cniArgs{IPs: []string{"10.0.0.9"}, MAC: "02:00:00:00:00:09"})
				if r.IPs[0] != "10.0.0.9" || r.MAC != "02:00:00:00:00:09" {
					return fmt.Sprintf("request with CNI_ARGS %+v", r)
				}
				return ""
			}},
		{name: "bound by iface-id", conf: `{"cniVersion": "1.0.0", "name": "blue", "ovsdb": "unix:/run/openvswitch/db.sock", "bridge": "br-x"}`,
			check: func(c *NetConf) string {
				if r := c.request("abc", "/run/netns/x", "eth0", cniArgs{}); r.OVSDB != "unix:/run/openvswitch/db.sock" || r.Bridge != "br-x" {
					return fmt.Sprintf("request %+v", r)
				}
				return ""
			}},
		{name: "not json", conf: `{"cniVersion": `, code: types.ErrDecodingFailure, wantErr: []string{"decode network configuration"}},
		{name: "every bad value named", conf: `{"cniVersion": "1.0.0", "name": "blue", "server": "ftp://x", "readyTimeout": "-3s",
  "runtimeConfig": {"ips": ["10.0.0.300"], "mac": "zz"}, "ovsdb": "/run/db.sock"}`, code: types.ErrInvalidNetworkConfig,
			wantErr: []string{`server "ftp://x"`, `readyTimeout "-3s"`, `runtimeConfig.ips: "10.0.0.300"`, `runtimeConfig.mac "zz"`, `ovsdb "/run/db.sock"`}},
		{name: "bridge without ovsdb", conf: `{"cniVersion": "1.0.0", "name": "blue", "bridge": "br-x"}`, code: types.ErrInvalidNetworkConfig,
			wantErr: []string{"bridge: only with ovsdb"}},
		{name: "no name", conf: `{"cniVersion": "1.0.0"}`, code: types.ErrInvalidNetworkConfig, wantErr: []string{"name: missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadNetConf([]byte(tc.conf), hostnameIs("node7"))
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if msg := tc.check(c); msg != "" {
					t.Error(msg)
				}
				return
			}
			var te *types.Error
			if !errors.As(err, &te) || te.Code != tc.code {
				t.Fatalf("error %#v, want a CNI error with code %d", err, tc.code)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(te.Msg+": "+te.Details, w) {
					t.Errorf("error %q does not say %q", te.Msg+": "+te.Details, w)
				}
			}
		})
	}
}

func TestHostnameUnknown(t *testing.T) {
	_, err := loadNetConf([]byte(`{"cniVersion": "1.0.0", "name": "blue"}`), func() (string, error) { return "", errors.New("no uts") })
	var te *types.Error
	if !errors.As(err, &te) || te.Code != types.ErrInvalidNetworkConfig || !strings.Contains(te.Details, "host: missing") {
		t.Errorf("%#v", err)
	}
}

func TestParseCNIArgs(t *testing.T) {
	a, err := parseCNIArgs("IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.0.0.7/24,fd00::7;MAC=02:AA:00:00:00:07")
	if err != nil || len(a.IPs) != 2 || a.IPs[0] != "10.0.0.7" || a.IPs[1] != "fd00::7" || a.MAC != "02:aa:00:00:00:07" {
		t.Errorf("%+v %v", a, err)
	}
	for _, bad := range []string{"IP=nope", "MAC=1:2", "novalue"} {
		_, err := parseCNIArgs(bad)
		var te *types.Error
		if !errors.As(err, &te) || te.Code != types.ErrInvalidEnvironmentVariables {
			t.Errorf("%q: %#v, want code 4", bad, err)
		}
	}
}

// TestErrorShapes: each failure of a command is a CNI error with the code
// a runtime can act on, what failed in msg and the cause in details.
func TestErrorShapes(t *testing.T) {
	conf := &NetConf{Switch: "blue", Host: "h1", Server: "http://127.0.0.1:9"}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name string
		err  error
		code uint
		msg  string
	}{
		{"loomd down", fmt.Errorf("loomd: add port: %w", refused), types.ErrTryAgainLater, "loomd unreachable at http://127.0.0.1:9"},
		{"timeout", fmt.Errorf("wait: %w", context.DeadlineExceeded), types.ErrTryAgainLater, "loomd unreachable"},
		{"busy", &api.Error{Code: http.StatusServiceUnavailable, Message: "busy"}, types.ErrTryAgainLater, "loomd is not ready"},
		{"empty pool", fmt.Errorf("loomd: %w", &api.Error{Code: http.StatusConflict, Message: `runtime port "x": no address to hand out: switch "blue"`}), ErrNoAddress, "no free address"},
		{"unknown switch", &api.Error{Code: http.StatusBadRequest, Message: `unknown switch "nosuch"`}, ErrLoomdRefused, "loomd refused"},
		{"token", &api.Error{Code: http.StatusUnauthorized, Message: "bad token"}, types.ErrInvalidNetworkConfig, "credentials"},
		{"bad request", &plumb.InputError{Msg: "missing netns"}, types.ErrInvalidNetworkConfig, "bad request"},
		{"netns", &plumb.NetnsError{Path: "/run/netns/x", Err: errors.New("no such file")}, types.ErrInvalidNetNS, "network namespace"},
		{"check unknown", &plumb.NotFoundError{ContainerID: "c", IfName: "eth0"}, types.ErrUnknownContainer, "no such container interface"},
		{"other", errors.New("netlink: boom"), types.ErrInternal, `loom-cni add on switch "blue", host "h1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cniError("add", conf, tc.err)
			var te *types.Error
			if !errors.As(err, &te) {
				t.Fatalf("%T %v: not a CNI error", err, err)
			}
			if te.Code != tc.code || !strings.Contains(te.Msg, tc.msg) || te.Details != tc.err.Error() {
				t.Errorf("code %d msg %q details %q; want code %d, msg with %q, details %q", te.Code, te.Msg, te.Details, tc.code, tc.msg, tc.err.Error())
			}
		})
	}
}

func TestHostVethName(t *testing.T) {
	a, b := plumb.HostVethName("c1", "eth0"), plumb.HostVethName("c1", "eth1")
	if a == b || len(a) > 15 || !strings.HasPrefix(a, "lm") || a != plumb.HostVethName("c1", "eth0") {
		t.Errorf("%q %q", a, b)
	}
}
