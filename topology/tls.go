package topology

import (
	"encoding/hex"
	"strings"
)

// hostTLS checks the certificate pin of a host (its tls key) and sets it
// on h, whose addresses are already checked.
func (v *validation) hostTLS(hs *HostSpec, h *Host) {
	if hs.TLS == nil {
		return
	}
	o := obj{"host", hs.Name, hs.TLS.Src}
	if !hs.TLS.Src.has("sha256") && !hs.TLS.Src.has("commonName") {
		v.err(o, "", "give sha256, commonName or both", "tls: no certificate to check against")
		return
	}
	if !strings.HasPrefix(h.OVSDB, "ssl:") && !strings.HasPrefix(h.OpenFlow, "ssl:") {
		v.err(o, "", "pin the certificate of hosts reached over ssl:, or remove tls", "tls: the host has no ssl: address, so no certificate to check")
	}
	if hs.TLS.Src.has("sha256") {
		fp, ok := fingerprint(hs.TLS.SHA256)
		if !ok {
			v.err(o, "sha256", "64 hex digits, pairs optionally separated by ':', as openssl x509 -noout -fingerprint -sha256 prints them",
				"tls: invalid sha256 fingerprint %q", hs.TLS.SHA256)
		}
		h.TLS.SHA256 = fp
	}
	h.TLS.CommonName = hs.TLS.CommonName
}

// fingerprint normalises a SHA-256 fingerprint written as hex digits,
// with or without ':' between pairs, to 64 lower-case hex digits.
func fingerprint(s string) (string, bool) {
	if strings.Contains(s, ":") {
		pairs := strings.Split(s, ":")
		for _, p := range pairs {
			if len(p) != 2 {
				return "", false
			}
		}
		s = strings.Join(pairs, "")
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return "", false
	}
	return hex.EncodeToString(b), true
}
