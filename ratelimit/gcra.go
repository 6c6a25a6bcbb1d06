package ratelimit

import "time"

// Check and Record are the generic cell rate algorithm (GCRA) on which every
// backend agrees; the Redis script mirrors them line for line.
//
// A key's whole state is its theoretical arrival time (TAT): the time at
// which it would be back to a full burst of r.N events. With the emission
// interval T = r.Interval() and the burst tolerance τ = r.Per − T, one more
// event is allowed at now while TAT − now ≤ τ. So a fresh key takes N events
// in a burst, then one per T. Once now ≥ TAT the key is as if it had never
// been seen, so a store may forget it at its TAT.
//
// A Rate whose Interval is not positive (the zero Rate, "unlimited") allows
// everything and records nothing.

// Check reports how long the key with theoretical arrival time tat (the zero
// Time if none is stored) must wait at now before one more event is allowed
// under r: 0 when it is allowed now, otherwise tat − now − τ. It does not
// record anything. It is a pure function.
func Check(tat, now time.Time, r Rate) (retryAfter time.Duration) {
	interval := r.Interval()
	if interval <= 0 || tat.IsZero() {
		return 0
	}
	tau := r.Per - interval
	if wait := tat.Sub(now) - tau; wait > 0 {
		return wait
	}
	return 0
}

// Record returns the theoretical arrival time of the key after one more
// event at now under r: max(tat, now) + r.Interval(). It records the event
// whether or not Check allowed it. For a Rate with no positive Interval it
// returns tat unchanged. It is a pure function.
func Record(tat, now time.Time, r Rate) (newTAT time.Time) {
	interval := r.Interval()
	if interval <= 0 {
		return tat
	}
	if tat.Before(now) {
		tat = now
	}
	return tat.Add(interval)
}

// Unrecord returns the theoretical arrival time of the key after one event
// recorded by Record is given back: tat − r.Interval(). A result at or before
// now means the key is as if never seen. An event may be given back after
// others were recorded: the result is exact unless the key went idle (its TAT
// passed) between the event and its refund, when at most that one event is
// forgiven early. For a Rate with no
// positive Interval it returns tat unchanged. It is a pure function.
func Unrecord(tat time.Time, r Rate) (newTAT time.Time) {
	interval := r.Interval()
	if interval <= 0 || tat.IsZero() {
		return tat
	}
	return tat.Add(-interval)
}
