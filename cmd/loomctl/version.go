package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/version"
)

// versions is what version -o json|yaml prints.
type versions struct {
	Client     version.Info       `json:"client"`
	APIVersion string             `json:"apiVersion"` // the API version loomctl speaks
	Server     *api.ServerVersion `json:"server,omitempty"`
	// ServerError says why the server's version is missing.
	ServerError string `json:"serverError,omitempty"`
}

func newVersionCmd(g *globals) *cobra.Command {
	var (
		out        output
		clientOnly bool
	)
	cmd := &cobra.Command{
		Use:   "version [--client]",
		Short: "Print loomctl's version and loomd's, with the API version each speaks",
		Long: "Print loomctl's version (release or \"devel\", the git commit it was built from, whether the\n" +
			"work tree was modified, the Go version), then ask loomd for its own and its API version.\n" +
			"Exit status 1 when loomd cannot be asked (not running, wrong credentials), unless --client.",
		Example: "  loomctl version\n  loomctl version --client\n  loomctl version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			v := versions{Client: version.Get(), APIVersion: api.Version}
			var serverErr error
			if !clientOnly {
				c, err := g.remote.client()
				if err == nil {
					ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
					defer cancel()
					v.Server, err = c.Version(ctx)
					if api.IsNotFound(err) {
						err = fmt.Errorf("%w (a loomd older than GET %sversion)", err, api.Prefix)
					}
				}
				if err != nil {
					v.Server, serverErr = nil, err
					v.ServerError = err.Error()
				}
			}
			w := cmd.OutOrStdout()
			if ok, err := out.structured(w, v); ok {
				if err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "client: loomctl %s, API %s\n", v.Client, v.APIVersion)
				if v.Server != nil {
					fmt.Fprintf(w, "server: loomd %s, API %s\n", v.Server.Info, v.Server.APIVersion)
				}
			}
			if v.Server != nil && v.Server.APIVersion != api.Version {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: loomd serves API %s, loomctl speaks %s\n", v.Server.APIVersion, api.Version)
			}
			if serverErr != nil {
				return fmt.Errorf("server: %w", serverErr)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "only loomctl's version: do not ask loomd")
	out.flag(cmd, "table", "json", "yaml")
	return cmd
}
