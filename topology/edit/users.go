package edit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/loom-sdn/loom/topology"
)

// Ref names an object as an Op does: its kind word ("port") and name.
type Ref struct {
	Kind string
	Name string
}

// String is the object as messages name it: `port "web1"`.
func (r Ref) String() string {
	k, _ := KindOf(r.Kind)
	return k.Singular() + " " + strconv.Quote(r.Name)
}

// Users are the objects of t that name the object kind (a kind word)
// name: the ports, L2 gateways and external endpoints on a switch; the
// ports and L2 gateways on a host; the ports that apply an ACL. In t's
// order.
func Users(t *topology.Topology, kind, name string) []Ref {
	var out []Ref
	// Runtime ports are not in the files: loomd's --force takes them.
	ports := func(uses func(p *topology.Port) bool) {
		for i := range t.Ports {
			if p := &t.Ports[i]; p.Runtime == nil && uses(p) {
				out = append(out, Ref{"port", p.Name})
			}
		}
	}
	gateways := func(uses func(g *topology.L2Gateway) bool) {
		for i := range t.L2Gateways {
			if g := &t.L2Gateways[i]; uses(g) {
				out = append(out, Ref{"l2Gateway", g.Name})
			}
		}
	}
	switch kind {
	case "switch":
		ports(func(p *topology.Port) bool { return p.Switch == name })
		gateways(func(g *topology.L2Gateway) bool { return g.Switch == name })
		for _, e := range t.ExternalEndpoints {
			if e.Switch == name {
				out = append(out, Ref{"externalEndpoint", e.Name})
			}
		}
	case "host":
		ports(func(p *topology.Port) bool { return p.Host == name })
		gateways(func(g *topology.L2Gateway) bool { return g.Host == name })
	case "acl":
		ports(func(p *topology.Port) bool {
			return slices.Contains(p.ACLsFromPort, name) || slices.Contains(p.ACLsToPort, name)
		})
	}
	return out
}

// InUse is an object that ops delete (or rename) while other objects,
// which ops neither delete nor change, still name it.
type InUse struct {
	Object Ref
	Users  []Ref
	Rename bool // a set of its name, not a delete
}

// Message says who uses the object, the first few by name.
func (u InUse) Message() string {
	const shown = 5
	names := make([]string, 0, shown)
	for _, r := range u.Users[:min(len(u.Users), shown)] {
		names = append(names, r.String())
	}
	list := strings.Join(names, ", ")
	if len(u.Users) > shown {
		list += fmt.Sprintf(" and %d more", len(u.Users)-shown)
	}
	return fmt.Sprintf("%s is used by %s", u.Object, list)
}

// Hint says what to do about it.
func (u InUse) Hint() string {
	switch {
	case u.Rename:
		return "change what they name in this edit or before it"
	case u.Object.Kind == "acl":
		return "take it out of their acls in this edit or before it; --cascade does that"
	}
	return "delete them first, or move them elsewhere, in this edit or before it; --cascade deletes them too"
}

// touchedBy are the objects ops delete or change.
func touchedBy(ops []Op) map[Ref]bool {
	touched := map[Ref]bool{}
	for _, op := range ops {
		if op.Action != ActionAdd && op.Kind != KindRule {
			touched[Ref{op.Kind, op.Name}] = true
		}
	}
	return touched
}

// StillUsed lists, for each object ops delete or rename, the objects of t
// (the topology the edits are made on) that use it and that ops neither
// delete nor change.
func StillUsed(t *topology.Topology, ops []Op) []InUse {
	if t == nil {
		return nil
	}
	touched := touchedBy(ops)
	var out []InUse
	for _, op := range ops {
		rename := false
		for _, f := range op.Fields {
			rename = rename || op.Action == ActionSet && f.Key == "name"
		}
		if op.Kind == KindRule || op.Action != ActionDel && !rename {
			continue
		}
		var users []Ref
		for _, u := range Users(t, op.Kind, op.Name) {
			if !touched[u] {
				users = append(users, u)
			}
		}
		if len(users) > 0 {
			out = append(out, InUse{Object: Ref{op.Kind, op.Name}, Users: users, Rename: rename})
		}
	}
	return out
}

// Cascade returns ops with, before each delete that asks for it
// (Op.Cascade), the edits that free the object of its users in t: an
// ACL is taken out of the acls of the ports that apply it; the ports,
// L2 gateways and external endpoints on a switch or host are deleted.
// Users that ops already delete or change are left to those ops.
func Cascade(t *topology.Topology, ops []Op) []Op {
	if t == nil {
		return ops
	}
	touched := touchedBy(ops)
	var out []Op
	for _, op := range ops {
		if op.Action == ActionDel && op.Cascade && op.Kind != KindRule {
			for _, u := range Users(t, op.Kind, op.Name) {
				if touched[u] {
					continue
				}
				touched[u] = true
				if op.Kind == "acl" {
					p, _ := t.Port(u.Name)
					out = append(out, Op{Action: ActionSet, Kind: u.Kind, Name: u.Name, Position: -1, Fields: withoutACL(&p, op.Name)})
					continue
				}
				out = append(out, Op{Action: ActionDel, Kind: u.Kind, Name: u.Name, Position: -1})
			}
		}
		out = append(out, op)
	}
	return out
}

// withoutACL are the fields that take acl out of port p's lists.
func withoutACL(p *topology.Port, acl string) []Field {
	from := slices.DeleteFunc(slices.Clone(p.ACLsFromPort), func(s string) bool { return s == acl })
	to := slices.DeleteFunc(slices.Clone(p.ACLsToPort), func(s string) bool { return s == acl })
	if len(from)+len(to) == 0 {
		return []Field{{Key: "acls"}}
	}
	var fs []Field
	for _, l := range []struct {
		key       string
		was, left []string
	}{{"acls.fromPort", p.ACLsFromPort, from}, {"acls.toPort", p.ACLsToPort, to}} {
		switch {
		case len(l.left) == len(l.was):
		case len(l.left) == 0:
			fs = append(fs, Field{Key: l.key})
		default:
			fs = append(fs, Field{Key: l.key, Value: "[" + strings.Join(l.left, ", ") + "]"})
		}
	}
	return fs
}
