package version

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Version, when set with -ldflags -X, is the version reported.
var Version string

// Info describes a build.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"` // VCS commit, if known
	Time      string `json:"time,omitempty"`     // commit time (RFC 3339), if known
	Modified  bool   `json:"modified,omitempty"` // built from a modified work tree
	GoVersion string `json:"goVersion"`
}

// Get returns this binary's build information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return infoOf(Version, bi)
}

// infoOf is Get for a given -X value and build information (nil: none).
func infoOf(linked string, bi *debug.BuildInfo) Info {
	i := Info{Version: linked, GoVersion: runtime.Version()}
	if bi == nil {
		if i.Version == "" {
			i.Version = "devel"
		}
		return i
	}
	if bi.GoVersion != "" {
		i.GoVersion = bi.GoVersion
	}
	if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		i.Version = bi.Main.Version
	}
	if i.Version == "" {
		i.Version = "devel"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Revision = s.Value
		case "vcs.time":
			i.Time = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// String is the one-line form: "v1.2.0 (3f2c1ab04e9d, modified, go1.26.8)".
func (i Info) String() string {
	var extra []string
	if i.Revision != "" {
		r := i.Revision
		if len(r) > 12 {
			r = r[:12]
		}
		extra = append(extra, r)
	}
	if i.Modified {
		extra = append(extra, "modified")
	}
	if i.GoVersion != "" {
		extra = append(extra, i.GoVersion)
	}
	if len(extra) == 0 {
		return i.Version
	}
	return i.Version + " (" + strings.Join(extra, ", ") + ")"
}
