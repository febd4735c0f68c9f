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
	return AssignIDsAround(names, nil, max)
}

// AssignIDsAround is AssignIDs where fixed (nil, or one per name) gives
// some names their id (not 0): the others are hashed and moved around
// them. A fixed id out of 1..max or given twice is an error naming both
// names.
func AssignIDsAround(names []string, fixed []uint32, max uint32) ([]uint32, error) {
	if uint64(len(names)) > uint64(max) {
		return nil, fmt.Errorf("%d names for the %d ids 1..%d", len(names), max, max)
	}
	used := make(map[uint32]int, len(names)) // id -> index of its name
	ids := make([]uint32, len(names))
	for i, id := range fixed {
		if id == 0 {
			continue
		}
		if id > max {
			return nil, fmt.Errorf("%q: id %d out of 1..%d", names[i], id, max)
		}
		if j, ok := used[id]; ok {
			return nil, fmt.Errorf("%q and %q both have id %d", names[j], names[i], id)
		}
		used[id], ids[i] = i, id
	}
	for i, n := range names {
		if ids[i] != 0 {
			continue
		}
		id := FreeID(n, max, func(id uint32) bool { _, ok := used[id]; return ok }) // never 0: fewer names than ids
		used[id], ids[i] = i, id
	}
	return ids, nil
}

// HashID is the id a name starts from in 1..max, before collisions.
func HashID(name string, max uint32) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()%max + 1
}

// FreeID is the id a new name gets in 1..max where used ids are taken:
// its hash, or the next free one after it; 0 when all are used.
func FreeID(name string, max uint32, used func(uint32) bool) uint32 {
	id := HashID(name, max)
	for range max {
		if !used(id) {
			return id
		}
		id = id%max + 1
	}
	return 0
}
