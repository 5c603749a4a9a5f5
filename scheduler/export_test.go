package scheduler

import "time"

// QueueState is what a test needs to know that the scheduler is quiet.
type QueueState struct {
	// Queued runs wait for a worker; Enqueued counts every run ever queued;
	// Busy counts checks with a run queued or in flight.
	Queued, Busy int
	Enqueued     uint64
}

// State reports the run queue.
func (s *Scheduler) State() QueueState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := QueueState{Queued: len(s.jobs), Enqueued: s.jobSeq}
	for _, e := range s.entries {
		if e.running {
			st.Busy++
		}
	}
	return st
}

// Slot is the current coalescing slot.
func (s *Scheduler) Slot() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slot
}
