package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// exitError carries an exit code out of a command without printing more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

type globals struct {
	logLevel string
	log      *zap.Logger
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
	root.AddCommand(newApplyCmd(g, false), newApplyCmd(g, true), newValidateCmd(), newCompileCmd(),
		newExplainCmd(), newTraceCmd(), newFlowsCmd(), newStatusCmd(), newGetCmd())
	return root
}

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	if e, ok := err.(exitError); ok {
		os.Exit(e.code)
	}
	fmt.Fprintln(os.Stderr, "loomctl:", err)
	os.Exit(1)
}
