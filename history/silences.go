package history

import (
	"context"
	"time"
)

// SilenceRecord is a stored silence: its times as columns (the store
// selects and purges by them) and the rest as the maintenance package's
// JSON document, which the store does not read.
type SilenceRecord struct {
	ID      string
	Starts  time.Time
	Ends    time.Time
	Updated time.Time
	Doc     []byte
}

// SilenceStore keeps silences (POST /api/v1/silences). Every store driver
// implements it; store/storetest holds them to the same behaviour.
type SilenceStore interface {
	// PutSilence inserts a silence or replaces the one of the same ID.
	PutSilence(ctx context.Context, s SilenceRecord) error
	// Silence returns one silence, or ErrNotFound.
	Silence(ctx context.Context, id string) (SilenceRecord, error)
	// Silences lists the silences that end after t (at t = now: the
	// active and pending ones), by start then ID, at most limit of them.
	Silences(ctx context.Context, endsAfter time.Time, limit int) ([]SilenceRecord, error)
	// ExpiredSilences lists the silences that ended in (since, now], the
	// latest end first (then by ID), at most limit of them. It is a query
	// of its own so that expired silences, which no count bounds, never
	// crowd an active one out of Silences' limit.
	ExpiredSilences(ctx context.Context, since, now time.Time, limit int) ([]SilenceRecord, error)
	// PurgeSilences deletes the silences that ended before t and says
	// how many.
	PurgeSilences(ctx context.Context, endedBefore time.Time) (int, error)
}
