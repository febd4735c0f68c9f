package main

import (
	"os"
	"strings"
	"testing"
)

// docs/loomd.md documents every setting with its default.
func TestSettingsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/loomd.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		def := "(none)"
		if k.def != "" {
			def = "`" + k.def + "`"
		}
		row := "| `" + k.name + "` | `LOOM_" + strings.ToUpper(strings.ReplaceAll(k.name, "-", "_")) + "` | " + def + " | " + k.help + " |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/loomd.md lacks the row:\n%s", row)
		}
	}
}
