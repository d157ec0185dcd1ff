package target

import (
	"errors"
	"fmt"
	"iter"
	"math/big"
	"math/bits"
	"math/rand/v2"
)

// Walk visits the indexes 0..n-1 in a pseudo-random order, as zmap does: it
// iterates the multiplicative group of integers modulo a prime p > n from a
// random generator g and start, x_{k+1} = x_k·g mod p, and keeps the
// elements x-1 < n. Shard s of S takes the steps k ≡ s (mod S), so shards are
// disjoint and together cover the space. A position counts the shard's
// steps, so a scan resumes by starting from its checkpointed position.
type Walk struct {
	n, p, g, start uint64
	step           uint64 // g^shards mod p
	first          uint64 // start·g^shard mod p
	shards         uint64
	length         uint64 // number of steps in this shard
}

// MaxWalk is the largest space a Walk handles (2^48: all IPv4 addresses × 65536 ports).
const MaxWalk = 1 << 48

// NewWalk returns a walk over n elements for shard (0-based) of shards,
// with generator and start derived from seed. The same seed, n and shards
// give the same order on every machine.
func NewWalk(n, seed uint64, shard, shards int) (*Walk, error) {
	if shards < 1 || shard < 0 || shard >= shards {
		return nil, fmt.Errorf("shard %d/%d: want 0 <= shard < shards", shard, shards)
	}
	if n > MaxWalk {
		return nil, fmt.Errorf("walk over %d elements: more than %d", n, uint64(MaxWalk))
	}
	if n == 0 {
		return &Walk{shards: uint64(shards)}, nil
	}
	p := nextPrime(n + 1)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := uint64(1)
	if p > 2 {
		factors := primeFactors(p - 1)
		for {
			c := 2 + rng.Uint64N(p-2) // 2..p-1
			if isGenerator(c, p, factors) {
				g = c
				break
			}
		}
	}
	start := 1 + rng.Uint64N(p-1)
	w := &Walk{n: n, p: p, g: g, start: start, shards: uint64(shards)}
	w.step = powMod(g, uint64(shards), p)
	w.first = mulMod(start, powMod(g, uint64(shard), p), p)
	total := p - 1 // group order
	if uint64(shard) < total {
		w.length = (total - uint64(shard) + uint64(shards) - 1) / uint64(shards)
	}
	return w, nil
}

// Steps returns how many steps (positions) this shard walks; some steps land
// outside 0..n-1 and are skipped.
func (w *Walk) Steps() uint64 { return w.length }

// N returns the size of the space.
func (w *Walk) N() uint64 { return w.n }

// At returns the index the walk visits at position, and false when that
// step lands outside the space (or past the shard's end).
func (w *Walk) At(position uint64) (uint64, bool) {
	if w.n == 0 || position >= w.length {
		return 0, false
	}
	x := mulMod(w.first, powMod(w.step, position, w.p), w.p)
	return x - 1, x-1 < w.n
}

// From yields (position, index) for the shard's elements from position on.
func (w *Walk) From(position uint64) iter.Seq2[uint64, uint64] {
	return func(yield func(uint64, uint64) bool) {
		if w.n == 0 || position >= w.length {
			return
		}
		x := mulMod(w.first, powMod(w.step, position, w.p), w.p)
		for k := position; k < w.length; k++ {
			if x-1 < w.n {
				if !yield(k, x-1) {
					return
				}
			}
			x = mulMod(x, w.step, w.p)
		}
	}
}

func mulMod(a, b, m uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return bits.Rem64(hi, lo, m)
}

func powMod(b, e, m uint64) uint64 {
	r := uint64(1) % m
	b %= m
	for e > 0 {
		if e&1 == 1 {
			r = mulMod(r, b, m)
		}
		b = mulMod(b, b, m)
		e >>= 1
	}
	return r
}

func nextPrime(n uint64) uint64 {
	if n <= 2 {
		return 2
	}
	v := new(big.Int)
	for c := n | 1; ; c += 2 {
		if v.SetUint64(c).ProbablyPrime(20) {
			return c
		}
	}
}

// primeFactors returns the distinct prime factors of n (n < 2^49, so trial
// division to sqrt(n) stays under 2^25 steps).
func primeFactors(n uint64) []uint64 {
	var f []uint64
	for q := uint64(2); q*q <= n; q++ {
		if n%q == 0 {
			f = append(f, q)
			for n%q == 0 {
				n /= q
			}
		}
	}
	if n > 1 {
		f = append(f, n)
	}
	return f
}

func isGenerator(g, p uint64, factors []uint64) bool {
	for _, q := range factors {
		if powMod(g, (p-1)/q, p) == 1 {
			return false
		}
	}
	return true
}

// ErrBadShard reports a malformed --shard value.
var ErrBadShard = errors.New("bad shard")
