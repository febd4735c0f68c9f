// Command loom-docker is Loom's Docker network driver (libnetwork's
// remote driver protocol on /run/docker/plugins/loom.sock): `docker
// network create -d loom --ipam-driver null --opt switch=blue blue`, then
// `docker run --network blue ...` gives the container a port of switch
// blue, with its MAC and address from loomd; removing the container frees
// them. It runs on each Docker host, as root (docs/containers.md).
//
// Owns: the Docker network driver's command. May import, of Loom's
// packages: controller/api, plumb, topology, version: loomd's client, never
// its engine (imports_test.go at the module's root holds these rules).
package main
