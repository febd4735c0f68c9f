package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// EditRequest is the body of POST edits: typed edits of the stored
// topology, made by loomd in order on its files (comments and untouched
// files kept byte for byte), checked as a PUT of the result would be, and
// stored as one new revision; all or nothing.
//
//	{"edits": [{"op": "add", "kind": "port", "name": "web3",
//	            "fields": {"switch": "blue", "host": "h2", "mac": "auto",
//	                       "ips": ["192.0.2.13"], "interface": "lm-web3"}}]}
type EditRequest struct {
	// Revision, if set, is the revision the edits were made for: if the
	// topology is at another, loomd answers 409 Conflict and changes
	// nothing. Left out, the edits apply to the topology as it is.
	Revision *int64 `json:"revision,omitempty"`
	// DryRun checks the edits and answers with the change of the files
	// (Diff), storing nothing.
	DryRun bool   `json:"dryRun,omitempty"`
	Edits  []Edit `json:"edits"`
	// Force removes the runtime ports on switches or hosts the edits
	// delete; without it such edits are refused, naming them.
	Force bool `json:"force,omitempty"`
}

// Edit is one edit of the stored topology.
type Edit struct {
	// Op is add, del or set (a rule: add or del).
	Op string `json:"op"`
	// Kind is host, switch, port, acl, l2Gateway, externalEndpoint or
	// rule (a rule of an ACL).
	Kind string `json:"kind"`
	// Name is the object's. For a rule: its name (add: optional, or in
	// Fields), or, to delete it, its name or its index counted from 0.
	Name string `json:"name,omitempty"`
	// ACL is a rule's ACL; adding a rule to an ACL that does not exist
	// makes the ACL.
	ACL string `json:"acl,omitempty"`
	// Position is the index a rule added takes in its ACL (0 first; left
	// out: last).
	Position *int `json:"position,omitempty"`
	// Fields are the object's fields (add) or those to change (set).
	Fields Fields `json:"fields,omitempty"`
	// Cascade (del of an object): its users go too, or stop naming it:
	// an ACL leaves the acls of the ports that apply it; the ports, L2
	// gateways and external endpoints on a switch or host are deleted.
	// Done lists each of those edits. Without it, deleting an object in
	// use is refused, naming its users.
	Cascade bool `json:"cascade,omitempty"`
}

// Fields are fields of a topology object, as one JSON object whose keys
// keep their order: the keys of the topology files (docs/topology.md), a
// dotted key reaching into a mapping (acls.toPort); the values are JSON,
// and null removes a key (set).
type Fields []Field

// Field is one key and its JSON value.
type Field struct {
	Key   string
	Value json.RawMessage
}

// MarshalJSON writes the fields as one JSON object, in order.
func (fs Fields) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.Key)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v := f.Value
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object, keeping the order of its keys; a
// key given twice is an error.
func (fs *Fields) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		*fs = nil
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("fields: want an object of keys and values, not %v", tok)
	}
	out := Fields{}
	seen := map[string]bool{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		key := k.(string)
		if seen[key] {
			return fmt.Errorf("fields: key %q given twice", key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		out = append(out, Field{Key: key, Value: v})
	}
	*fs = out
	return nil
}

// EditResult is the answer to POST edits.
type EditResult struct {
	// Revision is the topology's revision after the edits: a new one,
	// or, when nothing changed or for a dry run, FromRevision.
	Revision     int64 `json:"revision"`
	FromRevision int64 `json:"fromRevision"`
	// Unchanged: the edits left the files as they were.
	Unchanged bool `json:"unchanged,omitempty"`
	DryRun    bool `json:"dryRun,omitempty"`
	// Done says what each edit did, in order: `port "web3" added to
	// switch blue on host h2`.
	Done []string `json:"done"`
	// Files are the stored files the edits changed.
	Files []string `json:"files"`
	// Diff is the change of those files as a unified diff (dry run).
	Diff     string    `json:"diff,omitempty"`
	Summary  Summary   `json:"summary"`
	Warnings []Problem `json:"warnings,omitempty"`
	// RuntimePortsRemoved are the runtime ports a forced edit removed
	// with the switch or host it deleted.
	RuntimePortsRemoved []string `json:"runtimePortsRemoved,omitempty"`
	// HostsRemoved says, per host the edits removed, what loomd deletes
	// from it.
	HostsRemoved []string `json:"hostsRemoved,omitempty"`
	// Timings are loomd's steps, in order.
	Timings []Timing `json:"timings,omitempty"`
}

// Edit makes edits of the stored topology (see EditRequest).
func (c *Client) Edit(ctx context.Context, r EditRequest) (*EditResult, error) {
	var res EditResult
	return &res, c.do(ctx, http.MethodPost, "edits", r, &res)
}

// Timing is how long one step of loomd's work on a change took:
// edit (the files), load (parse and validate), compile, store, install.
type Timing struct {
	Step string  `json:"step"`
	Ms   float64 `json:"ms"`
}
