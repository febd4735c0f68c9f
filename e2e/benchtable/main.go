package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

type row struct {
	Section string  `json:"section"`
	Figure  string  `json:"figure"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Floor   float64 `json:"floor,omitempty"`
	Note    string  `json:"note,omitempty"`
}

var (
	benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)
	failLine  = regexp.MustCompile(`^(--- FAIL|FAIL\s|panic:)`)
	skipLine  = regexp.MustCompile(`^\s*--- SKIP: (\S+)`)
)

func main() {
	var in []io.Reader
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(2)
		}
		defer f.Close()
		in = append(in, f)
	}
	if len(in) == 0 {
		in = append(in, os.Stdin)
	}
	var rows []row
	var failed, skipped []string
	sc := bufio.NewScanner(io.MultiReader(in...))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "BENCH {"):
			var r row
			if err := json.Unmarshal([]byte(line[len("BENCH "):]), &r); err != nil {
				fmt.Fprintf(os.Stderr, "benchtable: bad line %q: %v\n", line, err)
				failed = append(failed, "unreadable BENCH line")
				continue
			}
			rows = append(rows, r)
		case benchLine.MatchString(line):
			rows = append(rows, goBench(benchLine.FindStringSubmatch(line))...)
		case failLine.MatchString(line):
			failed = append(failed, strings.TrimSpace(line))
		default:
			if m := skipLine.FindStringSubmatch(line); m != nil {
				skipped = append(skipped, m[1])
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rank(rows[i].Section) < rank(rows[j].Section) })
	print(os.Stdout, rows)
	for _, s := range skipped {
		fmt.Printf("SKIPPED: %s (see the log)\n", s)
	}
	for _, f := range failed {
		fmt.Printf("FAILED: %s\n", f)
	}
	if len(failed) > 0 || len(rows) == 0 {
		os.Exit(1)
	}
}

// rank orders the table's sections; rows keep their order within one.
func rank(section string) int {
	for i, s := range []string{"machine", "load", "compile", "edit", "push", "push phases", "converge", "resources", "lab setup", "repair", "hostile input"} {
		if s == section {
			return i
		}
	}
	return 100
}

// goBench turns a Go benchmark line into rows: its time per op, with its
// other metrics as a note.
func goBench(m []string) []row {
	name, rest := m[1], strings.Fields(m[3])
	metrics := map[string]float64{}
	var order []string
	for i := 0; i+1 < len(rest); i += 2 {
		v, err := strconv.ParseFloat(rest[i], 64)
		if err != nil {
			continue
		}
		metrics[rest[i+1]] = v
		order = append(order, rest[i+1])
	}
	figure, section := name, "compile"
	base, sub, _ := strings.Cut(name, "/")
	switch base {
	case "Load1000Hosts":
		section, figure = "load", "parse, validate, freeze 1,000 hosts × 100 ports"
	case "Compile":
		figure = "compile every host from scratch (flows put together when asked), " + strings.TrimPrefix(sub, "hosts=") + " hosts × 100 ports"
	case "CompileAllFlows":
		figure = "compile and put together every host's flows, " + strings.TrimPrefix(sub, "hosts=") + " hosts × 100 ports"
	case "HostFlows":
		figure = "put one host's flows together from its parts, " + sub
	case "OnePortChange":
		figure = "one port added: Compiled.Update from the previous compilation, " + sub
	case "OnePortFollow":
		figure = "one port added, then for a host of 50×40: " + sub
	}
	var note []string
	for _, u := range order {
		if u == "ns/op" || u == "MB/s" {
			continue
		}
		note = append(note, fmt.Sprintf("%s %s", human(metrics[u]), u))
	}
	return []row{{Section: section, Figure: figure, Value: metrics["ns/op"] / 1e9, Unit: "s", Note: strings.Join(note, ", ")}}
}

// human writes a count with thousands separators, or a small number with
// three significant digits.
func human(v float64) string {
	if v >= 1000 && v == float64(int64(v)) {
		s := strconv.FormatInt(int64(v), 10)
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func num(v float64) string {
	switch {
	case v >= 1 && v < 1e9 && v == float64(int64(v)):
		return strconv.FormatInt(int64(v), 10)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 0.1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

func print(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "section\tfigure\tvalue\tunit\tfloor\tLoom/floor\tnote")
	fmt.Fprintln(tw, "-------\t------\t-----\t----\t-----\t----------\t----")
	for _, r := range rows {
		floor, ratio := "", ""
		if r.Floor > 0 {
			floor = num(r.Floor)
			ratio = fmt.Sprintf("%.2f×", r.Value/r.Floor)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Section, r.Figure, num(r.Value), r.Unit, floor, ratio, r.Note)
	}
	tw.Flush()
}
