package topology

import (
	"strings"
	"testing"
)

func TestHostTLS(t *testing.T) {
	const fp = "3f:a2:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD"
	const hexFP = "3fa200112233445566778899aabbccddeeff00112233445566778899aabbccdd"
	host := func(addr, tls string) string {
		return "apiVersion: loom/v1\nhosts:\n  - name: h1\n    ovsdb: " + addr + "\n" + tls
	}
	for _, tc := range []struct {
		name, yaml string
		want       CertPin
		err        string // "file:line:col: message"
	}{
		{"fingerprint with colons", host("ssl:10.0.0.1:6640", "    tls: {sha256: \""+fp+"\"}\n"), CertPin{SHA256: hexFP}, ""},
		{"fingerprint without", host("ssl:10.0.0.1:6640", "    tls: {sha256: "+strings.ToUpper(hexFP)+"}\n"), CertPin{SHA256: hexFP}, ""},
		{"common name", host("ssl:10.0.0.1:6640", "    tls:\n      commonName: h1 id:1234\n"), CertPin{CommonName: "h1 id:1234"}, ""},
		{"both", host("ssl:10.0.0.1:6640", "    tls: {sha256: "+hexFP+", commonName: h1}\n"), CertPin{SHA256: hexFP, CommonName: "h1"}, ""},
		{"openflow over ssl only", "apiVersion: loom/v1\nhosts:\n  - {name: h1, ovsdb: \"tcp:10.0.0.1:6640\", openflow: \"ssl:10.0.0.1:6653\", tls: {commonName: h1}}\n",
			CertPin{CommonName: "h1"}, ""},
		{"no pin", host("ssl:10.0.0.1:6640", ""), CertPin{}, ""},
		{"empty", host("ssl:10.0.0.1:6640", "    tls: {}\n"), CertPin{},
			`t.yaml:5:10: host "h1": tls: no certificate to check against (give sha256, commonName or both)`},
		{"not ssl", host("tcp:10.0.0.1:6640", "    tls: {commonName: h1}\n"), CertPin{},
			`t.yaml:5:10: host "h1": tls: the host has no ssl: address, so no certificate to check (pin the certificate of hosts reached over ssl:, or remove tls)`},
		{"short fingerprint", host("ssl:10.0.0.1:6640", "    tls: {sha256: 3fa2}\n"), CertPin{},
			`t.yaml:5:19: host "h1": tls: invalid sha256 fingerprint "3fa2"`},
		{"odd pairs", host("ssl:10.0.0.1:6640", "    tls: {sha256: \"3:fa2"+strings.Repeat(":00", 30)+"\"}\n"), CertPin{},
			`t.yaml:5:19: host "h1": tls: invalid sha256 fingerprint`},
		{"not hex", host("ssl:10.0.0.1:6640", "    tls: {sha256: "+strings.Repeat("zz", 32)+"}\n"), CertPin{},
			`t.yaml:5:19: host "h1": tls: invalid sha256 fingerprint`},
		{"unknown key", host("ssl:10.0.0.1:6640", "    tls: {sha1: abc}\n"), CertPin{}, `t.yaml:5:11:`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top, err := LoadBytes(map[string][]byte{"t.yaml": []byte(tc.yaml)})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h, _ := top.Host("h1"); h.TLS != tc.want {
				t.Errorf("pin %+v, want %+v", h.TLS, tc.want)
			}
		})
	}
}
