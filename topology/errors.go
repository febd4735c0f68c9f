package topology

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in a topology file. Line and Col are 1-based; zero means
// unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one problem found in a topology, at a position.
type Error struct {
	Pos  Pos
	Msg  string
	Hint string // optional, e.g. "did you mean \"tunnelIP\"?"
	// Omitted, on the last entry of a capped list, is how many problems
	// that entry stands for (they were counted, not listed).
	Omitted int
}

func (e *Error) Error() string {
	s := e.Msg
	if p := e.Pos.String(); p != "" {
		s = p + ": " + s
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// ErrorList is every problem found in a topology, sorted by position.
type ErrorList []*Error

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if (a.File == "") != (b.File == "") {
			return b.File == "" // problems without a place (a count of more) go last
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return l[i].Msg < l[j].Msg
	})
}

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Total is how many problems the list stands for: those listed and those
// a capped list only counted.
func (l ErrorList) Total() int {
	n := 0
	for _, e := range l {
		if e.Omitted > 0 {
			n += e.Omitted
		} else {
			n++
		}
	}
	return n
}

// Err returns nil for an empty list and the sorted list otherwise.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.sort()
	return l
}

// MaxErrors is how many problems a load lists at most; one more entry
// then says how many were left out. Warnings are capped alike.
const MaxErrors = 100

// problems collects what a load finds: the first MaxErrors in full and a
// count of the rest, which are neither formatted nor kept, so that a file
// full of mistakes costs no more than a valid one of its size.
type problems struct {
	list ErrorList
	// n counts every problem added, listed or not: validation compares it
	// before and after an object to know whether the object was sound.
	n int
	// more counts problems left out of list because it was full.
	more int
	// reported are positions the decoder already found a problem at:
	// validation does not report them again (nor count them in more).
	reported map[Pos]bool
}

func (l *problems) add(p Pos, hint, format string, args ...any) {
	l.n++
	if l.reported[p] {
		return
	}
	if len(l.list) >= MaxErrors {
		l.more++
		return
	}
	l.list = append(l.list, &Error{Pos: p, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// full tells whether further problems would only be counted: callers skip
// work that only serves a message (hints, searches for the first use).
func (l *problems) full() bool { return len(l.list) >= MaxErrors }

// sorted is the list, sorted, with the count of those left out as a last
// entry; skipped says that later checks were not run.
func (l *problems) sorted(what string, skipped bool) ErrorList {
	out := append(ErrorList(nil), l.list...)
	out.sort()
	if l.more > 0 {
		msg := fmt.Sprintf("%d more %s not listed (only the first %d are)", l.more, what, MaxErrors)
		if skipped {
			msg += "; the topology's references and values were not checked"
		}
		out = append(out, &Error{Msg: msg, Omitted: l.more})
	}
	return out
}
