package api

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Runtime networks: a runtime's name for one of Loom's switches, kept by
// loomd for the runtime. Docker tells a network driver of a network once,
// when it is created (`docker network create -d loom --opt switch=blue
// blue`), and never again: the Docker driver keeps the network's switch
// here, so that a restarted driver (or another one on the host) finds it.
//
//	PUT    runtime-networks/{runtime}/{id}  set one (RuntimeNetwork): the same again is no change;
//	                                        another switch for the same id is refused (409)
//	GET    runtime-networks/{runtime}/{id}  one (404 if loomd has none)
//	GET    runtime-networks                 list them (RuntimeNetworks)
//	DELETE runtime-networks/{runtime}/{id}  remove one; removing one that is not there is no error

// RuntimeNetwork is a runtime's network on a Loom switch.
type RuntimeNetwork struct {
	Runtime string `json:"runtime"` // docker
	// ID is the runtime's id of the network.
	ID     string `json:"id"`
	Switch string `json:"switch"`
	// Host is the Loom host whose runtime made the network (a Docker
	// network of local scope lives on one host).
	Host      string    `json:"host"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

// RuntimeNetworks is the answer to GET runtime-networks.
type RuntimeNetworks struct {
	Networks []RuntimeNetwork `json:"networks"`
}

// RuntimeNetworkSet is the answer to PUT runtime-networks/{runtime}/{id}.
type RuntimeNetworkSet struct {
	RuntimeNetwork
	// Created: the network is new; false: loomd had it already.
	Created bool `json:"created"`
}

// RuntimeNetworkDeleted is the answer to DELETE
// runtime-networks/{runtime}/{id}.
type RuntimeNetworkDeleted struct {
	// Deleted: the network was there and is gone; false: there was none.
	Deleted bool `json:"deleted"`
}

func networkPath(runtime, id string) string {
	return "runtime-networks/" + url.PathEscape(runtime) + "/" + url.PathEscape(id)
}

// SetRuntimeNetwork records a runtime's network (n.Runtime, n.ID) on
// n.Switch.
func (c *Client) SetRuntimeNetwork(ctx context.Context, n RuntimeNetwork) (*RuntimeNetworkSet, error) {
	var res RuntimeNetworkSet
	return &res, c.do(ctx, http.MethodPut, networkPath(n.Runtime, n.ID), n, &res)
}

// RuntimeNetwork is a runtime's network; an error that IsNotFound when
// loomd has none of that id.
func (c *Client) RuntimeNetwork(ctx context.Context, runtime, id string) (*RuntimeNetwork, error) {
	var res RuntimeNetwork
	return &res, c.do(ctx, http.MethodGet, networkPath(runtime, id), nil, &res)
}

// RuntimeNetworks lists the runtimes' networks.
func (c *Client) RuntimeNetworks(ctx context.Context) (*RuntimeNetworks, error) {
	var res RuntimeNetworks
	return &res, c.do(ctx, http.MethodGet, "runtime-networks", nil, &res)
}

// DeleteRuntimeNetwork removes a runtime's network; one that is not there
// is no error (Deleted false).
func (c *Client) DeleteRuntimeNetwork(ctx context.Context, runtime, id string) (*RuntimeNetworkDeleted, error) {
	var res RuntimeNetworkDeleted
	return &res, c.do(ctx, http.MethodDelete, networkPath(runtime, id), nil, &res)
}
