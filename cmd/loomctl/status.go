package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller"
)

// statusDoc is loomd's GET /api/v1/status (cmd/loomd/api.go).
type statusDoc struct {
	Topology struct {
		Path     string    `json:"path"`
		Loaded   bool      `json:"loaded"`
		LoadedAt time.Time `json:"loadedAt"`
		Rejected string    `json:"rejected"`
		Hosts    int       `json:"hosts"`
		Switches int       `json:"switches"`
		Ports    int       `json:"ports"`
	} `json:"topology"`
	Hosts []controller.HostStatus `json:"hosts"`
}

// server is how loomctl reaches loomd.
type server struct {
	url, tokenFile string
}

func (s *server) flags(cmd *cobra.Command) {
	def := os.Getenv("LOOM_SERVER")
	if def == "" {
		def = "http://127.0.0.1:9477"
	}
	cmd.Flags().StringVar(&s.url, "server", def, "loomd's address (env LOOM_SERVER)")
	cmd.Flags().StringVar(&s.tokenFile, "token-file", os.Getenv("LOOM_TOKEN_FILE"), "file holding loomd's bearer token (env LOOM_TOKEN_FILE)")
}

func (s *server) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(s.url, "/")+path, nil)
	if err != nil {
		return err
	}
	if s.tokenFile != "" {
		b, err := os.ReadFile(s.tokenFile)
		if err != nil {
			return fmt.Errorf("token-file: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(b)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("loomd at %s: %w (is it running? see --server)", s.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		json.Unmarshal(body, &e) //nolint:errcheck // fall back to the status line
		if e.Error == "" {
			e.Error = resp.Status
		}
		return fmt.Errorf("loomd: %s", e.Error)
	}
	return json.Unmarshal(body, v)
}

func newStatusCmd() *cobra.Command {
	var (
		srv    server
		output string
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show loomd's topology and every host's state",
		Long: "Ask loomd for its topology and every host's state: in sync, pending, unreachable\n" +
			"or error (with the last error). Exit status 1 when a host is not in sync.",
		Example: "  loomctl status\n  loomctl status --server http://10.0.0.5:9477 --token-file ~/.loom/token -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var doc statusDoc
			if err := srv.get(ctx, "/api/v1/status", &doc); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(doc); err != nil {
					return err
				}
			case "table":
				printStatus(out, &doc)
			default:
				return fmt.Errorf("-o %q: want table or json", output)
			}
			for _, h := range doc.Hosts {
				if h.State != controller.StateInSync {
					return exitError{1}
				}
			}
			return nil
		},
	}
	srv.flags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func printStatus(out io.Writer, doc *statusDoc) {
	t := doc.Topology
	if t.Loaded {
		fmt.Fprintf(out, "topology %s: %d hosts, %d switches, %d ports, loaded %s\n", t.Path, t.Hosts, t.Switches, t.Ports, t.LoadedAt.Format(time.RFC3339))
	} else {
		fmt.Fprintf(out, "topology %s: none loaded\n", t.Path)
	}
	if t.Rejected != "" {
		fmt.Fprintf(out, "the newest files were rejected, the topology above stays:\n%s\n", t.Rejected)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSTATE\tFLOWS\tRECONCILES\tREPAIRS\tLAST\tERROR")
	for _, h := range doc.Hosts {
		last := "-"
		if !h.LastReconcile.IsZero() {
			last = fmt.Sprintf("%s ago (%v)", time.Since(h.LastReconcile).Round(time.Second), h.LastDuration.Round(time.Millisecond))
		}
		errText := h.LastError
		if len(errText) > 80 {
			errText = errText[:77] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", h.Host, h.State, h.Flows, h.Reconciles, h.Repairs, last, errText)
	}
	tw.Flush()
}
