// Command loomd is Loom's controller service. In this first version it
// re-reads the topology and reconciles every host at a fixed interval
// (level-triggered: each round compares every host with the topology and
// changes only what differs), until it is stopped.
package main
