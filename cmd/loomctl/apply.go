package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller"
)

// newApplyCmd makes `apply` or, with dry, `plan`: both compile the topology
// and visit every host; plan only says what apply would change.
func newApplyCmd(g *globals, dry bool) *cobra.Command {
	var (
		files    []string
		timeout  time.Duration
		parallel int
		tls      controller.TLS
	)
	use, short := "apply -f FILE|DIR", "Bring every host to the topology, verify, and report (no daemon needed)"
	if dry {
		use, short = "plan -f FILE|DIR", "Show what apply would change on each host, changing nothing"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Unreadable key files stop the run before any host is touched.
			if err := tls.Check(); err != nil {
				return err
			}
			t, err := loadTopology(cmd, files)
			if err != nil {
				return err
			}
			e := &controller.Engine{Log: g.log, Opts: controller.Options{
				HostTimeout: timeout, Parallel: parallel, DryRun: dry, TLS: tls,
			}}
			results, err := e.Apply(context.Background(), t)
			if err != nil {
				return err
			}
			if failed := report(cmd.OutOrStdout(), results, dry); failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable)")
	cmd.Flags().DurationVar(&timeout, "host-timeout", 60*time.Second, "time allowed for each host")
	cmd.Flags().IntVar(&parallel, "parallel", 8, "hosts worked on at once")
	addTLSFlags(cmd, &tls)
	return cmd
}

// addTLSFlags adds the flags of the files used with ssl: hosts.
func addTLSFlags(cmd *cobra.Command, tls *controller.TLS) {
	cmd.Flags().StringVar(&tls.PrivateKey, "private-key", os.Getenv("LOOM_PRIVATE_KEY"),
		"controller's private key (PEM) for hosts with ssl: addresses (env LOOM_PRIVATE_KEY)")
	cmd.Flags().StringVar(&tls.Certificate, "certificate", os.Getenv("LOOM_CERTIFICATE"),
		"controller's certificate (PEM), e.g. from ovs-pki req+sign NAME controller (env LOOM_CERTIFICATE)")
	cmd.Flags().StringVar(&tls.CACert, "ca-cert", os.Getenv("LOOM_CA_CERT"),
		"CA certificate (PEM) that signed the switches' certificates, e.g. ovs-pki's switchca/cacert.pem (env LOOM_CA_CERT)")
}

// report prints one block per host and a summary; it returns how many
// hosts failed.
func report(w io.Writer, results []controller.HostResult, dry bool) (failed int) {
	changed := 0
	verb := "changed"
	if dry {
		verb = "would change"
	}
	for _, r := range results {
		switch {
		case r.Err != nil:
			failed++
			fmt.Fprintf(w, "%s: FAILED: %v\n", r.Host, r.Err)
		case !r.Changed():
			fmt.Fprintf(w, "%s: in sync, no changes (%d flows)\n", r.Host, r.DesiredFlows)
		default:
			changed++
			fmt.Fprintf(w, "%s: %s\n", r.Host, verb)
		}
		for _, c := range r.OVSDB {
			fmt.Fprintf(w, "  ovsdb: %s\n", c)
		}
		for _, f := range r.Foreign {
			fmt.Fprintf(w, "  ovsdb: left alone (not Loom's): %s\n", f)
		}
		if p := r.Flows; p != nil && !p.Empty() {
			fmt.Fprintf(w, "  flows: %d missing, %d stale, in %d groups: one bundle of %d flow mods",
				len(p.Missing), len(p.Extra), len(p.Groups), p.FlowMods())
			if dry {
				fmt.Fprintln(w)
			} else {
				fmt.Fprintln(w, ", verified")
			}
		}
	}
	unchanged := len(results) - changed - failed
	fmt.Fprintf(w, "%d hosts: %d %s, %d unchanged, %d failed\n", len(results), changed, verb, unchanged, failed)
	if changed == 0 && failed == 0 {
		fmt.Fprintln(w, "nothing changed on any switch")
	}
	return failed
}
