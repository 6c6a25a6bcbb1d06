package main

import (
	"math/bits"
	"time"
)

// hist is a log-bucketed latency histogram in the spirit of HDR: values
// (nanoseconds) below 128 are exact, above that every power of two is split
// into 64 buckets, so a quantile is off by at most 1/64 (~1.6%). Memory is
// fixed (histBuckets counters) whatever the number of samples.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
}

const histBuckets = 128 + 58*64 // up to 2^64 ns

func histIndex(v uint64) int {
	if v < 128 {
		return int(v)
	}
	shift := bits.Len64(v) - 7
	return 128 + (shift-1)*64 + int(v>>uint(shift)-64)
}

// histValue is the middle of bucket i.
func histValue(i int) uint64 {
	if i < 128 {
		return uint64(i)
	}
	shift := uint((i-128)/64 + 1)
	m := uint64((i-128)%64 + 64)
	lo, hi := m<<shift, (m+1)<<shift-1
	return lo + (hi-lo)/2
}

func (h *hist) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d))]++
	h.n++
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the value at q (0 < q <= 1), or 0 without samples.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(histValue(i))
		}
	}
	return time.Duration(histValue(histBuckets - 1))
}
