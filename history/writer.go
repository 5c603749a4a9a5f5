package history

import (
	"context"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// StoredRun is a run as it is written: its summary columns and the
// stored form of its compacted, redacted result.
type StoredRun struct {
	RunSummary
	// Data is the result as Compact left it, in the form EncodeRun gives
	// (JSON); a reader rebuilds it with DecodeRun.
	Data []byte
	// Epoch is the lease epoch the run was made under (0 without a
	// cluster): a store shared by replicas refuses the run when a newer
	// owner of the check exists.
	Epoch int64
}

// Baseline is the last passing response of one step: what a later
// failure of that step is diffed against.
type Baseline struct {
	Check   string
	Step    string
	RunID   int64
	Started time.Time
	// Response is redacted, with its body cut at the evidence cap.
	Response checks.ResponseSummary
}

// Batch is what one flush writes, in one transaction: the runs and the
// baselines they replace.
type Batch struct {
	Runs      []StoredRun
	Baselines []Baseline
}

// PrunePolicy says what retention no longer keeps.
type PrunePolicy struct {
	// Before: runs started before it, resolved incidents and baselines
	// older than it go.
	Before time.Time
	// Keep bounds the runs kept per check: the newest Keep[check] stay.
	Keep map[string]int
	// MinuteBefore and HourBefore are the cut-offs of the aggregates.
	MinuteBefore, HourBefore time.Time
	// Limit bounds the rows one statement deletes, so that a prune never
	// holds the database for long.
	Limit int
}

// Writer is what the Recorder needs from a store driver.
type Writer interface {
	// ReserveIDs reserves n consecutive run ids and returns the first.
	// Ids only grow, across restarts and processes sharing the store.
	ReserveIDs(ctx context.Context, n int) (first int64, err error)
	// WriteBatch stores a batch in one transaction: all of it or none.
	WriteBatch(ctx context.Context, b Batch) error
	// RollUp adds the stored runs with ids up to upTo, not yet counted, to
	// the per-minute and per-hour aggregates. Every run with an id up to
	// upTo must be stored by then (the Recorder knows which are).
	RollUp(ctx context.Context, upTo int64) error
	// Baseline returns a step's last passing response, or ErrNotFound.
	Baseline(ctx context.Context, check, step string) (*Baseline, error)
	// Prune deletes what the policy no longer keeps (never runs not yet
	// rolled up), at most p.Limit
	// rows per kind and check, and returns how many rows went and whether
	// more would (a limit was reached): call again while more is true.
	Prune(ctx context.Context, p PrunePolicy) (deleted int, more bool, err error)
}

// MinuteWindow is the span minute aggregates are kept for and serve:
// Counts over a window that starts within it reads minutes, older ones
// read hours.
const MinuteWindow = 48 * time.Hour
