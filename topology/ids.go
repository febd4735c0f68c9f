package topology

import "hash/fnv"

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

// AssignIDs gives each name a stable id in 1..max. Names must be sorted and
// unique. An id is the name's FNV-1a hash folded into the range; a collision
// moves the later name (in sorted order) to the next free id, so the result
// depends on the set of names only, never on the order of the files, and
// adding a name changes no other name's id unless it collides.
func AssignIDs(names []string, max uint32) []uint32 {
	if uint64(len(names)) > uint64(max) {
		panic("topology: more names than ids")
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
	return ids
}
