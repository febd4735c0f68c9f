package topology

import "hash/fnv"

// Ranges of the derived ids. They are wide enough for a fleet and leave the
// OpenFlow port space above MaxPortKey to tunnels (see flows).
const (
	MaxHostKey  = 4999
	MaxSwitchID = 1<<24 - 1
	MaxPortKey  = 59999
)

// assignIDs gives each name a stable id in 1..max. Names must be sorted and
// unique. An id is the name's FNV-1a hash folded into the range; a collision
// moves the later name (in sorted order) to the next free id, so the result
// depends on the set of names only, never on the order of the files, and
// adding a name changes no other name's id unless it collides.
func assignIDs(names []string, max uint32) []uint32 {
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
