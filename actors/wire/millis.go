package wire

import (
	"math"
	"time"
)

// millis is d in milliseconds, as rtt_ms carries it. Owners measure to the
// microsecond (domain values are rounded there), so 1.5 ms is 1.5, not
// 1.5000001.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fromMillis is the inverse of millis, to the nanosecond.
func fromMillis(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}
