// Package edit changes topology files the way an operator would by hand:
// add, delete or set one host, switch, port or ACL (or one ACL rule), and
// leave the rest of every file as it was written. loomd runs it for POST
// /api/v1/edits (which loomctl switch|port|acl send) on the files it
// stores, and loomctl runs it on local files with -f; both then load the
// result to check it. Apply takes typed Ops (the API's edits); with an
// Indexer (topology.Loader) it finds objects in the files' layouts and
// rewrites the lines of one entry instead of parsing whole files (fast.go),
// with the same bytes as a result.
//
// Invariants:
//
//   - Pure and deterministic: no I/O, no logging; the same files and edit
//     give the same bytes. Only gopkg.in/yaml.v3, encoding/json (field
//     values of the API) and topology are used.
//   - Files an edit does not touch come back byte-identical.
//   - In the file it touches, an edit rewrites only the lines of what it
//     changes (the list item, or the key and its value) and splices them
//     into the original text, so blank lines, comments and their
//     alignment elsewhere survive; yaml.v3 re-encoding a whole file would
//     drop blank lines and re-align comments. Every splice is checked: the
//     spliced file must decode to the same data as the edited yaml.v3 tree
//     and repeat no comment; if not (an odd layout, flow style), the whole
//     file is encoded from the tree instead (two-space indent, comments
//     kept).
//   - Meaning is not checked here: a field with an unknown key or a bad
//     value is written as given, and the loader, which reads the result,
//     reports it with its position. Only what an edit needs is checked:
//     that the object exists (or does not, for Add), that keys are
//     well-formed, and that values are YAML.
//
// Owns: typed edits of topology YAML files, comments kept. May import, of
// Loom's packages: topology (imports_test.go at the module's root holds
// these rules).
package edit
