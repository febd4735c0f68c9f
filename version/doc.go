// Package version says which build of Loom is running: loomd --version,
// loomctl version and loomd's GET /api/v1/version all read it.
//
// The version is, in order: Version if set at link time
// (go build -ldflags "-X github.com/loom-sdn/loom/version.Version=v1.2.0"),
// the module version Go recorded (go install ...@v1.2.0), or "devel". The
// VCS revision and whether the work tree was modified come from the build
// information Go embeds when it builds from a git checkout.
//
// Owns: the build's version (loomd --version, loomctl version, GET
// version). May import, of Loom's packages: nothing of Loom's
// (imports_test.go at the module's root holds these rules).
package version
