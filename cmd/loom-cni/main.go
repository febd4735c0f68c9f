package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	cniversion "github.com/containernetworking/cni/pkg/version"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/plumb"
	"github.com/loom-sdn/loom/version"
)

// Plugin-specific error codes (CNI reserves 0-99).
const (
	// ErrLoomdRefused: loomd refused the request (an unknown switch or
	// host, a taken address, ...): details carry loomd's message.
	ErrLoomdRefused uint = 100
	// ErrNoAddress: the switch's address pool is exhausted.
	ErrNoAddress uint = 101
	// ErrNotReady: CHECK found the port not as ADD left it.
	ErrNotReady uint = 102
)

// callTimeout bounds one command's calls to loomd (besides ADD's wait
// for the port to be ready).
const callTimeout = 30 * time.Second

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck},
		cniversion.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0"),
		"loom-cni "+version.Get().String()+": joins containers to Loom switches")
}

// setup reads what every command needs.
func setup(args *skel.CmdArgs) (*NetConf, *api.Client, plumb.Request, error) {
	conf, err := loadNetConf(args.StdinData, os.Hostname)
	if err != nil {
		return nil, nil, plumb.Request{}, err
	}
	ca, err := parseCNIArgs(args.Args)
	if err != nil {
		return nil, nil, plumb.Request{}, err
	}
	cl, err := conf.client()
	if err != nil {
		return nil, nil, plumb.Request{}, err
	}
	return conf, cl, conf.request(args.ContainerID, args.Netns, args.IfName, ca), nil
}

func cmdAdd(args *skel.CmdArgs) error {
	conf, cl, req, err := setup(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout+conf.readyTimeout)
	defer cancel()
	at, err := plumb.Add(ctx, cl, req)
	if err != nil {
		return cniError("add", conf, err)
	}
	if !at.Ready && conf.readyTimeout > 0 {
		fmt.Fprintf(os.Stderr, "loom-cni: port %s not reported working on host %s within %v; loomd keeps at it\n", at.Port.Name, conf.Host, conf.readyTimeout)
	}
	return types.PrintResult(result(at, args.Netns), conf.CNIVersion)
}

// result is the CNI result for an attachment.
func result(at *plumb.Attachment, netns string) *current.Result {
	r := &current.Result{CNIVersion: current.ImplementedSpecVersion, Interfaces: []*current.Interface{
		{Name: at.HostVeth, Mac: at.HostMAC},
		{Name: at.Port.IfName, Mac: at.ContainerMAC, Sandbox: netns, Mtu: at.Port.MTU},
	}}
	idx := 1
	for _, s := range at.Port.IPs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		ipc := &current.IPConfig{Interface: &idx, Address: net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		for _, gs := range at.Port.Gateways {
			if g, err := netip.ParseAddr(gs); err == nil && p.Contains(g) {
				ipc.Gateway = g.AsSlice()
				dst := net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
				if g.Is6() {
					dst = net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
				}
				r.Routes = append(r.Routes, &types.Route{Dst: dst, GW: g.AsSlice()})
			}
		}
		r.IPs = append(r.IPs, ipc)
	}
	return r
}

func cmdDel(args *skel.CmdArgs) error {
	conf, cl, req, err := setup(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if _, err := plumb.Del(ctx, cl, req); err != nil {
		return cniError("del", conf, err)
	}
	return nil
}

func cmdCheck(args *skel.CmdArgs) error {
	conf, cl, req, err := setup(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	p, err := plumb.Check(ctx, cl, req)
	if err != nil {
		return cniError("check", conf, err)
	}
	// The runtime's record of ADD must still be what loomd has.
	if conf.RawPrevResult != nil {
		if err := cniversion.ParsePrevResult(&conf.NetConf); err != nil {
			return types.NewError(types.ErrDecodingFailure, "prevResult", err.Error())
		}
		prev, err := current.NewResultFromResult(conf.PrevResult)
		if err != nil {
			return types.NewError(types.ErrDecodingFailure, "prevResult", err.Error())
		}
		var got []string
		for _, ipc := range prev.IPs {
			got = append(got, ipc.Address.String())
		}
		if strings.Join(got, ",") != strings.Join(p.IPs, ",") {
			return types.NewError(ErrNotReady, "check", fmt.Sprintf("prevResult has addresses %v, loomd's port %s has %v", got, p.Name, p.IPs))
		}
	}
	return nil
}

// cniError turns an error of a command into a CNI error: what failed in
// msg, the cause in details.
func cniError(cmd string, conf *NetConf, err error) error {
	where := fmt.Sprintf("loom-cni %s on switch %q, host %q", cmd, conf.Switch, conf.Host)
	var ae *api.Error
	var ie *plumb.InputError
	var ne *plumb.NetnsError
	var te *types.Error
	var nf *plumb.NotFoundError
	switch {
	case errors.As(err, &nf):
		return types.NewError(types.ErrUnknownContainer, where+": no such container interface", err.Error())
	case errors.As(err, &te):
		return te
	case errors.As(err, &ie):
		return types.NewError(types.ErrInvalidNetworkConfig, where+": bad request", err.Error())
	case errors.As(err, &ne):
		return types.NewError(types.ErrInvalidNetNS, where+": network namespace", err.Error())
	case errors.As(err, &ae):
		switch {
		case ae.Code == http.StatusServiceUnavailable || ae.Code >= 500:
			return types.NewError(types.ErrTryAgainLater, where+": loomd is not ready", err.Error())
		case ae.Code == http.StatusConflict && strings.Contains(ae.Message, "no address to hand out"):
			return types.NewError(ErrNoAddress, where+": no free address on the switch", err.Error())
		case ae.Code == http.StatusUnauthorized || ae.Code == http.StatusForbidden:
			return types.NewError(types.ErrInvalidNetworkConfig, where+": loomd refused the credentials (tokenFile, clientCert)", err.Error())
		}
		return types.NewError(ErrLoomdRefused, where+": loomd refused", err.Error())
	case isUnreachable(err):
		return types.NewError(types.ErrTryAgainLater, where+": loomd unreachable at "+conf.Server, err.Error())
	}
	return types.NewError(types.ErrInternal, where, err.Error())
}

// isUnreachable tells a failure to reach loomd (connection refused, a
// timeout) from other errors.
func isUnreachable(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) || errors.Is(err, context.DeadlineExceeded)
}
