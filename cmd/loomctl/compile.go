package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/flows"
)

func newCompileCmd(g *globals) *cobra.Command {
	var (
		files []string
		host  string
		out   output
	)
	cmd := &cobra.Command{
		Use:   "compile [-f FILE] [--host H]",
		Short: "Print the bridge, ports and flows a topology gives each host, offline",
		Long: "Print the bridge, ports and flows a topology gives each host, without contacting any host.\n" +
			"Each flow is followed by the topology object and rule that made it.",
		Example: "  loomctl compile -f topology.yaml --host h1\n  loomctl compile --host h1 -o yaml      # the topology loomd holds",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			t, err := g.load(cmd, files)
			if err != nil {
				return err
			}
			var states []*flows.HostState
			if host != "" {
				hs, err := flows.CompileHost(t, host)
				if err != nil {
					return err
				}
				states = []*flows.HostState{hs}
			} else if states, err = flows.Compile(t); err != nil {
				return err
			}
			if out.format != "text" {
				return compileStructured(cmd.OutOrStdout(), &out, states)
			}
			return compileText(cmd.OutOrStdout(), states)
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable); default: the topology loomd holds")
	cmd.Flags().StringVar(&host, "host", "", "only this host")
	g.completeFlag(cmd, "host", "hosts")
	out.flag(cmd, "text", "json", "yaml")
	return cmd
}

func compileText(out io.Writer, states []*flows.HostState) error {
	for _, hs := range states {
		fmt.Fprintf(out, "# host %s: bridge %s, datapath %s, OpenFlow listener %s, OVSDB %s\n",
			hs.Host, hs.Bridge, hs.DatapathType, hs.ControllerTarget, hs.OVSDB)
		for _, p := range hs.Ports {
			if p.IfaceID != "" {
				fmt.Fprintf(out, "# port bound by iface-id %s (ofport %d, set as the interface's ofport_request)\n", p.IfaceID, p.Ofport)
				continue
			}
			kind := p.Type
			if kind == "" {
				kind = "system"
			}
			fmt.Fprintf(out, "# port %s (%s, ofport %d) %v\n", p.Name, kind, p.Ofport, p.Options)
		}
		var b []byte
		for i := range hs.Flows() {
			f := &hs.Flows()[i]
			b = f.AppendText(b[:0])
			fmt.Fprintf(out, "%s\n    # %s\n", b, f.Origin)
		}
	}
	return nil
}

type jsonOrigin struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
	Rule string `json:"rule"`
	Note string `json:"note,omitempty"`
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// jsonFlow is a flow (its value and text, see flows.Flow), the name of
// its table and its origin.
type jsonFlow struct {
	TableName string     `json:"tableName"`
	Flow      flows.Flow `json:"flow"`
	Origin    jsonOrigin `json:"origin"`
}

type jsonPort struct {
	Name    string            `json:"name"`
	Type    string            `json:"type"`
	Ofport  int               `json:"ofport"`
	Options map[string]string `json:"options,omitempty"`
}

type jsonHost struct {
	Host             string     `json:"host"`
	OVSDB            string     `json:"ovsdb"`
	OpenFlow         string     `json:"openflow"`
	Bridge           string     `json:"bridge"`
	DatapathType     string     `json:"datapathType"`
	ControllerTarget string     `json:"controllerTarget"`
	Ports            []jsonPort `json:"ports"`
	Flows            []jsonFlow `json:"flows"`
}

func compileStructured(out io.Writer, o *output, states []*flows.HostState) error {
	hosts := []jsonHost{}
	for _, hs := range states {
		h := jsonHost{Host: hs.Host, OVSDB: hs.OVSDB, OpenFlow: hs.OpenFlow, Bridge: hs.Bridge,
			DatapathType: hs.DatapathType, ControllerTarget: hs.ControllerTarget, Ports: []jsonPort{}, Flows: []jsonFlow{}}
		for _, p := range hs.Ports {
			typ := p.Type
			if typ == "" {
				typ = "system"
			}
			h.Ports = append(h.Ports, jsonPort{p.Name, typ, p.Ofport, p.Options})
		}
		for _, f := range hs.Flows() {
			o := f.Origin
			h.Flows = append(h.Flows, jsonFlow{
				TableName: flows.TableName(int(f.Table)), Flow: f,
				Origin: jsonOrigin{Kind: o.Kind.String(), Name: o.Name, Rule: o.Rule.String(), Note: o.Note,
					File: o.Pos.File, Line: o.Pos.Line, Col: o.Pos.Col},
			})
		}
		hosts = append(hosts, h)
	}
	_, err := o.structured(out, hosts)
	return err
}
