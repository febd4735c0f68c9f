package topology

import (
	"fmt"
	"hash/fnv"
)

// Ranges of the derived ids. Host keys stay small: the compiler numbers
// the tunnel port to a host after its key.
const (
	MaxHostKey  = 4999
	MaxSwitchID = 1<<24 - 1
	MaxPortKey  = 1<<24 - 1
	MaxACLID    = 1<<16 - 1
	// Endpoint ids number tunnel ports too.
	MaxEndpointID = 9999
	MaxGatewayID  = 1<<16 - 1
)

// Limits of what the compiler can number on one host, checked by
// validation (flows numbers OpenFlow ports after them):
const (
	// MaxPortsPerHost is the most workload ports one host may have
	// (OpenFlow ports 1..39999).
	MaxPortsPerHost = 39999
	// MaxPhysnetsPerHost is the most physnets one host may have: their
	// NICs take OpenFlow ports 65001..65279, the last before OpenFlow's
	// reserved ones.
	MaxPhysnetsPerHost = 279
	// MaxACLRules is the most rules an ACL, and the ACLs of one port in
	// one direction together, may have: they take OpenFlow priorities
	// 30000 down to 2, above the port's default at 1.
	MaxACLRules = 29999
)

// AssignIDs gives each name a stable id in 1..max. Names must be sorted and
// unique. An id is the name's FNV-1a hash folded into the range; a collision
// moves the later name (in sorted order) to the next free id, so the result
// depends on the set of names only, never on the order of the files, and
// adding a name changes no other name's id unless it collides.
func AssignIDs(names []string, max uint32) ([]uint32, error) {
	if uint64(len(names)) > uint64(max) {
		return nil, fmt.Errorf("%d names for the %d ids 1..%d", len(names), max, max)
	}
	used := make(map[uint32]bool, len(names))
	ids := make([]uint32, len(names))
	for i, n := range names {
		h := fnv.New32a()
		h.Write([]byte(n))
		id := h.Sum32()%max + 1
		for used[id] {
			id = id%max + 1
		}
		used[id] = true
		ids[i] = id
	}
	return ids, nil
}
