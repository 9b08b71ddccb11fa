package tunnel

import (
	"math/rand/v2"
	"time"
)

// backoff spaces out reconnection attempts: exponential from min to max,
// each delay drawn at random from its upper half so that a fleet of agents
// cut off together does not come back together.
type backoff struct {
	min, max time.Duration
	// down caps the delays while the relay cannot be reached (0: max), so
	// that an agent is back within about that long of the relay, however
	// long it was away; max is kept for refusals, where trying soon is
	// pointless.
	down    time.Duration
	attempt int
	random  func(n time.Duration) time.Duration // in [0, n); nil means math/rand
}

// next returns the delay before the next attempt and moves one step up.
func (b *backoff) next() time.Duration {
	top := b.max
	if b.down > 0 && b.down < top {
		top = b.down
	}
	d := top
	if b.attempt < 62 && b.min<<b.attempt > 0 && b.min<<b.attempt < top {
		d = b.min << b.attempt
		b.attempt++
	}
	return b.jitter(d)
}

// longest returns a delay at the top of the range, for when retrying soon
// is pointless.
func (b *backoff) longest() time.Duration { return b.jitter(b.max) }

// reset starts again from min, after a link that held.
func (b *backoff) reset() { b.attempt = 0 }

func (b *backoff) jitter(d time.Duration) time.Duration {
	random := b.random
	if random == nil {
		random = rand.N[time.Duration]
	}
	half := d / 2
	return half + random(d-half+1)
}
