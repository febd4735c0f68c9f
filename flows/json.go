package flows

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// A Flow in JSON is its value, readable, and its text:
//
//	{"table": 10, "priority": 90, "cookie": "0x4c4d0306002028a6",
//	 "match": {"dl_type": "0x0806", "reg6": "0x2028a6", "arp_spa": "192.0.2.1"},
//	 "actions": ["goto_table:20"],
//	 "text": "priority=90,arp,reg6=0x2028a6,arp_spa=192.0.2.1,table=10,..."}
//
// The match's fields come in Loom's order, each value as Loom writes it
// (with its mask); timeouts appear when they are set. Reading a Flow back
// parses its text (ParseFlow): the text is what counts. The origin is not
// part of it.

// MarshalJSON writes f as above.
func (f Flow) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 512)
	b = append(b, `{"table":`...)
	b = strconv.AppendUint(b, uint64(f.Table), 10)
	b = append(b, `,"priority":`...)
	b = strconv.AppendUint(b, uint64(f.Priority), 10)
	b = append(b, `,"cookie":"0x`...)
	b = strconv.AppendUint(b, f.Cookie, 16)
	b = append(b, '"')
	for _, t := range []struct {
		name string
		v    uint16
	}{{"idleTimeout", f.IdleTimeout}, {"hardTimeout", f.HardTimeout}, {"importance", f.Importance}} {
		if t.v != 0 {
			b = append(b, `,"`...)
			b = append(b, t.name...)
			b = append(b, `":`...)
			b = strconv.AppendUint(b, uint64(t.v), 10)
		}
	}
	b = append(b, `,"match":{`...)
	p := f.Match.Proto()
	for i := range f.Match {
		e := &f.Match[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, matchName(e.Field, p))
		b = append(b, ':')
		b = strconv.AppendQuote(b, string(appendValue(nil, e.Field, e.Value, e.Mask, true)))
	}
	b = append(b, `},"actions":[`...)
	for i, a := range f.ActionStrings() {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, a)
	}
	b = append(b, `],"text":`...)
	b = strconv.AppendQuote(b, f.String())
	return append(b, '}'), nil
}

// UnmarshalJSON reads a flow written by MarshalJSON, from its text.
func (f *Flow) UnmarshalJSON(b []byte) error {
	var doc struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	if doc.Text == nil {
		return fmt.Errorf("a flow in JSON needs its \"text\"")
	}
	g, err := ParseFlow(*doc.Text)
	if err != nil {
		return fmt.Errorf("flow %q: %w", *doc.Text, err)
	}
	*f = g
	return nil
}
