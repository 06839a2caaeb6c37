package oktaapi

import (
	"net/http"
	"strconv"
	"sync"
)

// headroom keeps the lowest share of the rate limit left that Okta's
// answers reported since it was last taken.
type headroom struct {
	mu   sync.Mutex
	low  float64 // in [0, 1]
	seen bool
}

// noteHeadroom reads X-Rate-Limit-Remaining against X-Rate-Limit-Limit.
// Okta keeps a limit per endpoint group, so the lowest share over the
// answers is the one closest to being refused.
func (c *Client) noteHeadroom(resp *http.Response) {
	rem, errR := strconv.Atoi(resp.Header.Get("X-Rate-Limit-Remaining"))
	limit, errL := strconv.Atoi(resp.Header.Get("X-Rate-Limit-Limit"))
	if errR != nil || errL != nil || limit <= 0 || rem < 0 {
		return
	}
	share := min(float64(rem)/float64(limit), 1)
	c.headroom.mu.Lock()
	if !c.headroom.seen || share < c.headroom.low {
		c.headroom.low, c.headroom.seen = share, true
	}
	c.headroom.mu.Unlock()
}

// TakeHeadroom returns the lowest X-Rate-Limit-Remaining as a share of
// X-Rate-Limit-Limit (0 to 1) seen since the last call, and forgets it; ok
// is false when no answer carried both headers. A reconciler run takes it
// once at its end, so each run reports its own low.
func (c *Client) TakeHeadroom() (share float64, ok bool) {
	c.headroom.mu.Lock()
	defer c.headroom.mu.Unlock()
	share, ok = c.headroom.low, c.headroom.seen
	c.headroom.low, c.headroom.seen = 0, false
	return share, ok
}
