package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is a number of events allowed per window, written "N/duration"
// (for example "10/1m"). The zero Rate means "unlimited".
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate parses "N/duration" where N is a positive integer and duration a
// positive Go duration ("100/1m", "5/30s"). A bare "N/s", "N/m" or "N/h" is
// accepted as shorthand for one second, minute or hour.
func ParseRate(s string) (Rate, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("ratelimit: parse rate %q: want N/duration, e.g. 10/1m", s)
	}
	count, err := strconv.Atoi(n)
	if err != nil || count <= 0 {
		return Rate{}, fmt.Errorf("ratelimit: parse rate %q: count must be a positive integer", s)
	}
	switch per {
	case "s", "m", "h":
		per = "1" + per
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return Rate{}, fmt.Errorf("ratelimit: parse rate %q: window must be a positive duration", s)
	}
	return Rate{N: count, Per: d}, nil
}

// String formats r as "N/duration", the form ParseRate reads.
func (r Rate) String() string {
	if r.N == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

// Interval is the emission interval of r: the window divided by the count.
func (r Rate) Interval() time.Duration {
	if r.N <= 0 {
		return 0
	}
	return r.Per / time.Duration(r.N)
}
