package version

import (
	"runtime/debug"
	"testing"
)

func TestInfoOf(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "80e36d3a1b2c3d4e5f60718293a4b5c6d7e8f901"},
		{Key: "vcs.time", Value: "2025-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, tc := range []struct {
		name   string
		linked string
		bi     *debug.BuildInfo
		want   Info
		str    string
	}{
		{"no build info", "", nil, Info{Version: "devel"}, "devel"},
		{"a checkout", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			Info{Version: "devel", Revision: "80e36d3a1b2c3d4e5f60718293a4b5c6d7e8f901", Time: "2025-01-02T03:04:05Z", Modified: true, GoVersion: "go1.26.8"},
			"devel (80e36d3a1b2c, modified, go1.26.8)"},
		{"go install @v1.2.0", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}},
			Info{Version: "v1.2.0", GoVersion: "go1.26.8"}, "v1.2.0 (go1.26.8)"},
		{"-ldflags -X wins", "v1.3.0-rc1", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: vcs[:1]},
			Info{Version: "v1.3.0-rc1", Revision: vcs[0].Value, GoVersion: "go1.26.8"}, "v1.3.0-rc1 (80e36d3a1b2c, go1.26.8)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := infoOf(tc.linked, tc.bi)
			if tc.bi == nil {
				got.GoVersion = "" // the running Go's
			}
			if got != tc.want {
				t.Errorf("infoOf = %+v, want %+v", got, tc.want)
			}
			if s := got.String(); s != tc.str {
				t.Errorf("String() = %q, want %q", s, tc.str)
			}
		})
	}
}

// A test binary has build information; Get reads it.
func TestGet(t *testing.T) {
	i := Get()
	if i.Version == "" || i.GoVersion == "" {
		t.Errorf("Get() = %+v: no version or Go version", i)
	}
}
