package edit

import (
	"fmt"
	"strings"
)

// Diff is a unified diff of one file, with three lines of context: a
// before, b after (nil: the file is new, or gone).
func Diff(name string, a, b []byte) string {
	al, bl := diffLines(a), diffLines(b)
	ops := diffOps(al, bl)
	from, to := "a/"+name, "b/"+name
	if a == nil {
		from = "/dev/null"
	}
	if b == nil {
		to = "/dev/null"
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", from, to)
	// an[i] and bn[i] count the lines of a and b before ops[i].
	an, bn := make([]int, len(ops)+1), make([]int, len(ops)+1)
	for i, op := range ops {
		an[i+1], bn[i+1] = an[i], bn[i]
		if op[0] != '+' {
			an[i+1]++
		}
		if op[0] != '-' {
			bn[i+1]++
		}
	}
	const ctx = 3
	for i := 0; i < len(ops); {
		for i < len(ops) && ops[i][0] == ' ' {
			i++
		}
		if i == len(ops) {
			break
		}
		start, end := max(i-ctx, 0), i
		for j := i; j < len(ops); {
			if ops[j][0] != ' ' {
				j++
				end = j
				continue
			}
			k := j
			for k < len(ops) && ops[k][0] == ' ' {
				k++
			}
			if k == len(ops) || k-j > 2*ctx {
				break
			}
			j = k
		}
		end = min(end+ctx, len(ops))
		na, nb := an[end]-an[start], bn[end]-bn[start]
		sa, sb := an[start]+1, bn[start]+1
		if na == 0 {
			sa--
		}
		if nb == 0 {
			sb--
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", sa, na, sb, nb)
		for _, op := range ops[start:end] {
			out.WriteString(op)
		}
		i = end
	}
	return out.String()
}

func diffLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	l := strings.SplitAfter(string(b), "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	} else {
		l[len(l)-1] += "\n"
	}
	return l
}

// diffOps are the lines of a and b as a unified diff prints them: " "
// kept, "-" removed, "+" added. Edits touch a few lines: the common head
// and tail are kept as they are, and the middle is compared by longest
// common subsequence (or replaced whole, if large).
func diffOps(a, b []string) []string {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	var ops []string
	for _, l := range a[:p] {
		ops = append(ops, " "+l)
	}
	ma, mb := a[p:len(a)-s], b[p:len(b)-s]
	if len(ma)*len(mb) > 1<<20 {
		for _, l := range ma {
			ops = append(ops, "-"+l)
		}
		for _, l := range mb {
			ops = append(ops, "+"+l)
		}
	} else {
		// lcs[i][j] is the longest common subsequence of ma[i:] and mb[j:].
		lcs := make([][]int, len(ma)+1)
		for i := range lcs {
			lcs[i] = make([]int, len(mb)+1)
		}
		for i := len(ma) - 1; i >= 0; i-- {
			for j := len(mb) - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(ma) || j < len(mb) {
			switch {
			case i < len(ma) && j < len(mb) && ma[i] == mb[j]:
				ops = append(ops, " "+ma[i])
				i++
				j++
			case j < len(mb) && (i == len(ma) || lcs[i][j+1] > lcs[i+1][j]):
				ops = append(ops, "+"+mb[j])
				j++
			default:
				ops = append(ops, "-"+ma[i])
				i++
			}
		}
	}
	for _, l := range a[len(a)-s:] {
		ops = append(ops, " "+l)
	}
	return ops
}
