package api

import (
	"context"
	"net/http"
	"net/url"
)

// Removals: a host removed from the topology is cleaned by loomd (its
// status says removing until then). One that will never be reachable
// again (the machine is gone) can be given up on:
//
//	DELETE removals/{host}   stop cleaning it; what Loom made on it stays

// RemovalForgotten is the answer to DELETE removals/{host}.
type RemovalForgotten struct {
	Host string `json:"host"`
	// Forgotten is false when the host was not being removed (DELETE is
	// idempotent).
	Forgotten bool `json:"forgotten"`
}

// ForgetRemoval stops loomd cleaning host, a host removed from the
// topology: what Loom made on it stays there.
func (c *Client) ForgetRemoval(ctx context.Context, host string) (*RemovalForgotten, error) {
	var res RemovalForgotten
	return &res, c.do(ctx, http.MethodDelete, "removals/"+url.PathEscape(host), nil, &res)
}
