//go:build !nodirect

package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/plumb"
)

// workloadOptions name the workload of attach and detach.
type workloadOptions struct {
	netns     string
	pid       int
	ifName    string
	hostNetns string
}

func (o *workloadOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.netns, "netns", "", "the workload's network namespace: a name (under /run/netns) or a path")
	f.IntVar(&o.pid, "pid", 0, "a process whose network namespace is the workload's")
	f.StringVar(&o.ifName, "ifname", "eth1", "the interface's name inside the workload")
	f.StringVar(&o.hostNetns, "host-netns", "", "the network namespace where the host's ovs-vswitchd runs (a name or a path; default: loomctl's own). For the lab, whose hosts are namespaces")
}

// request is the plumbing request for the workload: its container id at
// loomd is "netns:NAME" or "pid:PID".
func (o *workloadOptions) request() (plumb.Request, error) {
	if (o.netns == "") == (o.pid == 0) {
		return plumb.Request{}, fmt.Errorf("give exactly one of --netns NAME and --pid PID")
	}
	r := plumb.Request{Runtime: api.RuntimeAttach, IfName: o.ifName, HostNetns: nsPath(o.hostNetns)}
	if o.netns != "" {
		r.ContainerID, r.Netns = "netns:"+o.netns, nsPath(o.netns)
	} else {
		if o.pid < 0 {
			return r, fmt.Errorf("--pid %d: want a process id", o.pid)
		}
		r.ContainerID, r.Netns = "pid:"+strconv.Itoa(o.pid), fmt.Sprintf("/proc/%d/ns/net", o.pid)
	}
	return r, nil
}

// portName is the port's name by default: attach-NETNS-IFNAME or
// attach-pid-PID-IFNAME, in the letters a name may have.
func (o *workloadOptions) portName() string {
	who := "pid-" + strconv.Itoa(o.pid)
	if o.netns != "" {
		who = o.netns[strings.LastIndex(o.netns, "/")+1:]
	}
	var b strings.Builder
	for _, c := range strings.ToLower("attach-" + who + "-" + o.ifName) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	name := b.String()
	for strings.Contains(name, "--") {
		name = strings.ReplaceAll(name, "--", "-")
	}
	if len(name) > 56 {
		name = name[:56]
	}
	return strings.Trim(name, "-")
}

// nsPath is a namespace's path: a bare name is one under /run/netns.
func nsPath(s string) string {
	if s == "" || strings.Contains(s, "/") {
		return s
	}
	return "/run/netns/" + s
}

// attachOptions are the flags of attach.
type attachOptions struct {
	workloadOptions
	host, mac, name string
	ips             []string
	wait            time.Duration
	out             output
}

// newAttachCmd makes `attach`: Pipework in one command.
func newAttachCmd(g *globals) *cobra.Command {
	var o attachOptions
	cmd := &cobra.Command{
		Use:   "attach SWITCH --netns NAME | --pid PID [--ip auto|ADDR] [--host H]",
		Short: "Join a running namespace or process to a switch (a runtime port)",
		Long: "Join a network namespace, or the one of a running process, to a logical switch: loomd\n" +
			"makes a runtime port for it (its MAC, and an address from the switch's subnet unless --ip\n" +
			"gives one), loomctl makes a veth whose host end loomd puts on the host's bridge, and gives\n" +
			"the namespace's end the port's MAC, addresses, default route (the switch's gateway) and\n" +
			"MTU. Attaching again the same namespace and interface gets the same port. `loomctl detach`\n" +
			"undoes it. Run it on the host (as root); in the lab, name the host's namespace with\n" +
			"--host-netns. See docs/containers.md.",
		Example: "  loomctl attach blue --netns web1 --host h1\n" +
			"  loomctl attach blue --pid 4242 --ip 192.0.2.20 --ifname eth1\n" +
			"  loomctl attach blue --netns lm-h1-web9 --host h1 --host-netns lm-h1   # the lab",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeNames(0, "switches"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.out.check(); err != nil {
				return err
			}
			r, err := o.request()
			if err != nil {
				return err
			}
			r.Switch, r.MAC, r.Name, r.ReadyTimeout = args[0], o.mac, o.name, o.wait
			if r.Name == "" {
				r.Name = o.portName()
			}
			for _, ip := range o.ips {
				if ip != "auto" {
					r.IPs = append(r.IPs, ip)
				}
			}
			r.Host = o.host
			if r.Host == "" {
				if r.Host, err = os.Hostname(); err != nil {
					return fmt.Errorf("attach: --host not given and the host name is unknown: %w", err)
				}
			}
			c, err := g.remote.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second+o.wait)
			defer cancel()
			at, err := plumb.Add(ctx, c, r)
			if err != nil {
				return fmt.Errorf("attach: %w", err)
			}
			if ok, err := o.out.structured(cmd.OutOrStdout(), at); ok {
				return err
			}
			state := "working"
			if !at.Ready {
				state = "not yet reported working (see loomctl status)"
				if o.wait == 0 {
					state = "not waited for"
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s: port %s on switch %s, host %s: %s mac %s, %s; host end %s; %s\n",
				map[bool]string{true: "attached", false: "already attached"}[at.Created], r.ContainerID, at.Port.Name,
				at.Port.Switch, at.Port.Host, r.IfName, at.ContainerMAC, strings.Join(at.Port.IPs, " "), at.HostVeth, state)
			return nil
		},
	}
	o.workloadOptions.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.host, "host", "", "the Loom host the workload runs on (default: this machine's host name)")
	f.StringSliceVar(&o.ips, "ip", nil, "an address for the workload (repeatable), or auto (the default) for one from the switch's subnet")
	f.StringVar(&o.mac, "mac", "", "the workload's MAC (default: one loomd makes, unique on the switch)")
	f.StringVar(&o.name, "name", "", "the port's name at loomd (default: attach-NETNS-IFNAME or attach-pid-PID-IFNAME)")
	f.DurationVar(&o.wait, "wait", 5*time.Second, "how long to wait for loomd to report the port working on the host (0: do not wait)")
	g.completeFlag(cmd, "host", "hosts")
	o.out.flag(cmd, "text", "json", "yaml")
	return cmd
}

// newDetachCmd makes `detach`, which undoes attach.
func newDetachCmd(g *globals) *cobra.Command {
	var o workloadOptions
	var out output
	cmd := &cobra.Command{
		Use:   "detach --netns NAME | --pid PID [--ifname IF]",
		Short: "Take a namespace or process off its switch (undoes attach)",
		Long: "Remove the veth that attach made and the runtime port at loomd, which frees its address.\n" +
			"Detaching what is not attached is no error. Give --host-netns as to attach.",
		Example: "  loomctl detach --netns web1\n  loomctl detach --pid 4242",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			r, err := o.request()
			if err != nil {
				return err
			}
			c, err := g.remote.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			res, err := plumb.Del(ctx, c, r)
			if err != nil {
				return fmt.Errorf("detach: %w", err)
			}
			if ok, err := out.structured(cmd.OutOrStdout(), res); ok {
				return err
			}
			if res.Deleted {
				fmt.Fprintf(cmd.OutOrStdout(), "detached %s: port %s removed\n", r.ContainerID, res.Name)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s was not attached\n", r.ContainerID, r.IfName)
			}
			return nil
		},
	}
	o.flags(cmd)
	out.flag(cmd, "text", "json", "yaml")
	return cmd
}
