package scheduler

import (
	"container/heap"
	"time"
)

// Runs waiting for a worker are served by start-time fair queueing,
// weighted by each check's interval: a run costs its check's interval in
// virtual time, and the waiting run with the earliest virtual start goes
// first. While there are workers enough this changes nothing
// (nothing waits); under overload every check gets the same fraction of
// its scheduled runs, so an "@every 1s" check beside 2,000 slow ones
// keeps most of its runs instead of waiting behind all of them once per
// round (a FIFO queue gives every check one run per round, whatever its
// schedule asks for).
//
// A check that got every run it was due starts its next one no earlier
// than the current virtual time: it saves up no credit. A check that lost
// runs (skipped while its previous one waited or ran) keeps its place, up
// to maxLag behind: it is the one the queue owes. No run starts more than
// maxAhead after the current virtual time, so a check with a long
// interval, or a new check, waits at most that long in virtual time. A
// new check starts at the current virtual time plus its phase, so that
// the first runs of checks loaded together keep their spread.

const (
	// minCost is the virtual cost of a run of a check whose interval is
	// unknown or shorter.
	minCost = time.Second
	// maxLag bounds how far behind the virtual time a check that lost
	// runs may start (its credit).
	maxLag = 10 * time.Minute
	// maxAhead bounds how far ahead of the virtual time a run may start.
	maxAhead = 10 * time.Minute
)

// startFair places a newly planned entry in the fair queue. s.mu is held.
func (s *Scheduler) startFair(e *entry, first, now time.Time) {
	e.vfinish = s.vnow + min(max(first.Sub(now), 0), max(e.interval, minCost))
	e.starved = false
}

// enqueue queues a due run of e. s.mu is held.
func (s *Scheduler) enqueue(e *entry, planned time.Time) {
	floor := s.vnow
	if e.starved {
		floor -= maxLag
	}
	tag := min(max(e.vfinish, floor), s.vnow+maxAhead)
	e.vfinish = tag + max(e.interval, minCost)
	e.starved = false
	s.jobSeq++
	heap.Push(&s.jobs, job{e: e, c: e.check, planned: planned, tag: tag, seq: s.jobSeq})
}

// dequeue takes the waiting run with the earliest virtual start and
// moves the virtual time to it. s.mu is held; s.jobs is not empty.
func (s *Scheduler) dequeue() job {
	j := heap.Pop(&s.jobs).(job)
	s.vnow = max(s.vnow, j.tag)
	return j
}

// jobHeap orders waiting runs by virtual start, then by arrival.
type jobHeap []job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if h[i].tag != h[j].tag {
		return h[i].tag < h[j].tag
	}
	return h[i].seq < h[j].seq
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(job)) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = job{}
	*h = old[:len(old)-1]
	return j
}
