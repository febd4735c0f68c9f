package plumb

import (
	"context"
	"net"

	"github.com/containernetworking/plugins/pkg/ns"
)

// DialIn returns a dial function (for http.Transport.DialContext) whose
// connections are made from the network namespace at path: a socket
// stays in the namespace it was made in. The lab runs loomd in its
// controller's namespace; a plugin run by a container runtime runs in
// the machine's own.
func DialIn(path string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		n, err := openNS(path)
		if err != nil {
			return nil, err
		}
		defer n.Close()
		var conn net.Conn
		err = n.Do(func(ns.NetNS) error {
			var derr error
			conn, derr = (&net.Dialer{}).DialContext(ctx, network, addr)
			return derr
		})
		return conn, err
	}
}
