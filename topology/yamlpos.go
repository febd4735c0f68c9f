package topology

import "unicode/utf8"

// Where a YAML syntax error really is. The parser reports the place it
// stopped, which for a [list], {mapping} or "quoted string" left open is
// often lines later, where the next key made no sense inside it. opened
// scans src up to that place, roughly as YAML's scanner does (quotes,
// comments, flow brackets, block scalars), to find such an opener; it is
// used only to word and place the message, never to accept or refuse.

// opener is a [, { or quote that may be the mistake.
type opener struct {
	what      string // "[list]", "{mapping}", "quoted string"
	line, col int
	endLine   int // for a quoted string closed before the stop: its last line
}

// opened returns the innermost [ or { still open at line:col (1-based,
// col in characters), or else a quoted string that ran over several lines
// and closed on that line (a closing quote forgotten, the next value's
// opening quote taken for it).
func opened(src []byte, stopLine, stopCol int) (opener, bool) {
	var (
		stack          []opener
		quote          rune // the quote being read, or 0
		quoted         opener
		last           opener // the last quoted string closed
		line, col      = 1, 0
		atNode         = true // a node (scalar, quote, [ or {) may start here
		prev           rune   // the previous character on the line
		blockIndent    = -1   // inside a block scalar: the indent it is deeper than
		indent         int
		lineStart      = true
		skipLine       bool // in a comment
		escaped        bool
		pendingBlockAt = -1 // a | or > seen: its line's indent
	)
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		i += size
		col++
		if line > stopLine || line == stopLine && col >= stopCol {
			break
		}
		if r == '\n' {
			line, col, prev = line+1, 0, 0
			lineStart, skipLine, indent = true, false, 0
			if pendingBlockAt >= 0 {
				blockIndent, pendingBlockAt = pendingBlockAt, -1
			}
			if len(stack) == 0 && quote == 0 {
				atNode = true
			}
			continue
		}
		if lineStart {
			if r == ' ' {
				indent++
				continue
			}
			lineStart = false
			if blockIndent >= 0 {
				if indent > blockIndent {
					skipLine = true
				} else {
					blockIndent = -1
				}
			}
		}
		if skipLine {
			continue
		}
		if quote != 0 {
			switch {
			case escaped:
				escaped = false
			case quote == '"' && r == '\\':
				escaped = true
			case r == quote:
				if quote == '\'' && i < len(src) && src[i] == '\'' {
					i++ // '' is a quote inside
					col++
					continue
				}
				quote = 0
				quoted.endLine = line
				last = quoted
				atNode = false
			}
			prev = r
			continue
		}
		switch {
		case r == '#' && (prev == 0 || prev == ' '):
			skipLine = true
		case (r == '"' || r == '\'') && atNode:
			quote, quoted = r, opener{what: "quoted string", line: line, col: col}
		case (r == '[' || r == '{') && atNode:
			what := "[list]"
			if r == '{' {
				what = "{mapping}"
			}
			stack = append(stack, opener{what: what, line: line, col: col})
		case (r == ']' || r == '}') && len(stack) > 0:
			stack = stack[:len(stack)-1]
			atNode = false
		case r == ',' && len(stack) > 0:
			atNode = true
		case r == ':' && len(stack) > 0:
			atNode = true
		case (r == ':' || r == '-' || r == '?') && len(stack) == 0 && (i >= len(src) || src[i] == ' ' || src[i] == '\n'):
			atNode = true
		case (r == '|' || r == '>') && atNode && len(stack) == 0:
			pendingBlockAt = indent
		case (r == '&' || r == '!') && atNode:
			// An anchor or tag: the node follows it.
			for i < len(src) && src[i] != ' ' && src[i] != '\n' {
				i++
				col++
			}
		case r == ' ':
		default:
			atNode = false
		}
		prev = r
	}
	switch {
	case len(stack) > 0:
		return stack[len(stack)-1], true
	case quote == 0 && last.what != "" && last.endLine > last.line && last.endLine == stopLine:
		return last, true
	}
	return opener{}, false
}
