package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/loom-sdn/loom/version"
)

// exitError carries an exit code out of a command without printing more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

type globals struct {
	logLevel string
	log      *zap.Logger
	remote   remote
	noColor  bool
}

// colors tells how to paint output for w.
func (g *globals) colors(w io.Writer) colors {
	return colors{on: !g.noColor && os.Getenv("NO_COLOR") == "" && isTerminal(w)}
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "loomctl",
		Short:         "Loom's command line: validate, compile and apply network topologies",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			lvl, err := zapcore.ParseLevel(g.logLevel)
			if err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			cfg := zap.NewDevelopmentConfig()
			cfg.Level = zap.NewAtomicLevelAt(lvl)
			cfg.DisableStacktrace = true
			cfg.OutputPaths = []string{"stderr"}
			g.log, err = cfg.Build()
			return err
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "error", "log level on stderr: debug, info, warn, error")
	root.PersistentFlags().BoolVar(&g.noColor, "no-color", false, "never color the output (also: NO_COLOR set, or output not a terminal)")
	g.remote.flags(root)
	root.AddCommand(newApplyCmd(g, false), newApplyCmd(g, true), newValidateCmd(), newCompileCmd(g),
		newExplainCmd(g), newTraceCmd(g), newFlowsCmd(g), newStatusCmd(g), newGetCmd(g),
		newDiffCmd(g), newShowCmd(g), newSwitchCmd(g), newHostCmd(g), newPortCmd(g), newRuntimePortCmd(g), newACLCmd(g), newAttachCmd(g), newDetachCmd(g), newVersionCmd(g))
	root.Version = version.Get().String()
	root.SetVersionTemplate("loomctl {{.Version}}\n")
	return root
}

func main() { os.Exit(loomctlMain()) }

// loomctlMain runs loomctl on os.Args and returns its exit status.
func loomctlMain() int {
	err := newRootCmd().Execute()
	if err == nil {
		return 0
	}
	if e, ok := err.(exitError); ok {
		return e.code
	}
	fmt.Fprintln(os.Stderr, "loomctl:", err)
	return 1
}
