package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistIndexRoundTrip(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 123456789, 1 << 40, 1<<64 - 1} {
		i := histIndex(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("index(%d) = %d after %d", v, i, prev)
		}
		prev = i
		got := histValue(i)
		if diff := float64(got) - float64(v); diff > float64(v)/64+1 || -diff > float64(v)/64+1 {
			t.Fatalf("value(index(%d)) = %d: off by more than 1/64", v, got)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	var all []time.Duration
	for range 100000 {
		d := time.Duration(rand.ExpFloat64() * float64(time.Millisecond))
		h.record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		want := all[int(q*float64(len(all)))-1]
		got := h.quantile(q)
		if r := float64(got) / float64(want); r < 0.97 || r > 1.03 {
			t.Errorf("q%.3f = %v, exact %v", q, got, want)
		}
	}
}
