package sim

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// u128 is a field value or mask of up to 128 bits (the widest field Loom
// touches is an IPv6 address). Bit 0 is the least significant bit, as in
// OVS's subfield syntax NXM_NX_REG5[0].
type u128 struct{ hi, lo uint64 }

func u64(v uint64) u128 { return u128{lo: v} }

func (a u128) and(b u128) u128    { return u128{a.hi & b.hi, a.lo & b.lo} }
func (a u128) or(b u128) u128     { return u128{a.hi | b.hi, a.lo | b.lo} }
func (a u128) andNot(b u128) u128 { return u128{a.hi &^ b.hi, a.lo &^ b.lo} }
func (a u128) isZero() bool       { return a.hi == 0 && a.lo == 0 }

func (a u128) shl(n int) u128 {
	switch {
	case n <= 0:
		return a
	case n >= 128:
		return u128{}
	case n >= 64:
		return u128{hi: a.lo << (n - 64)}
	default:
		return u128{hi: a.hi<<n | a.lo>>(64-n), lo: a.lo << n}
	}
}

func (a u128) shr(n int) u128 {
	switch {
	case n <= 0:
		return a
	case n >= 128:
		return u128{}
	case n >= 64:
		return u128{lo: a.hi >> (n - 64)}
	default:
		return u128{hi: a.hi >> n, lo: a.lo>>n | a.hi<<(64-n)}
	}
}

// ones returns a value with the n low bits set.
func ones(n int) u128 {
	switch {
	case n <= 0:
		return u128{}
	case n >= 128:
		return u128{^uint64(0), ^uint64(0)}
	case n >= 64:
		return u128{hi: 1<<(n-64) - 1, lo: ^uint64(0)}
	default:
		return u128{lo: 1<<n - 1}
	}
}

// bitLen is the number of bits needed to represent a.
func (a u128) bitLen() int {
	if a.hi != 0 {
		return 64 + bits.Len64(a.hi)
	}
	return bits.Len64(a.lo)
}

func (a u128) hex() string {
	if a.hi == 0 {
		return "0x" + strconv.FormatUint(a.lo, 16)
	}
	return fmt.Sprintf("0x%x%016x", a.hi, a.lo)
}

// parseInt parses an unsigned integer the way OVS's parse_int_string does:
// hexadecimal with a 0x prefix, otherwise decimal; up to 128 bits.
func parseInt(s string) (u128, error) {
	if s == "" {
		return u128{}, fmt.Errorf("empty number")
	}
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		if h == "" || len(strings.TrimLeft(h, "0")) > 32 {
			return u128{}, fmt.Errorf("%q is not a number of at most 128 bits", s)
		}
		var v u128
		for _, c := range h {
			d := strings.IndexRune("0123456789abcdef", c)
			if d < 0 {
				return u128{}, fmt.Errorf("%q is not a hexadecimal number", s)
			}
			v = v.shl(4).or(u64(uint64(d)))
		}
		return v, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return u128{}, fmt.Errorf("%q is not a number (decimal, or hexadecimal with 0x)", s)
	}
	return u64(n), nil
}
