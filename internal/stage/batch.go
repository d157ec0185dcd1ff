package stage

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"iotwatch/internal/store"
)

// BatchSize is how many results a Batch commits per transaction.
const BatchSize = 500

// Batch collects results of a stage and commits them in transactions of
// Size. It is safe for concurrent use. It saves with a context that is not
// cancelled with the stage's, so results already measured when a run is
// interrupted are still stored.
type Batch[T any] struct {
	st   *store.Store
	save func(ctx context.Context, tx *sql.Tx, items []T) error
	Size int
	// Every, when set, also commits the queue once its oldest item is that
	// old (checked on Add), so slow stages store what they found promptly.
	Every time.Duration

	mu    sync.Mutex // guards items, saved and last
	items []T
	saved int
	last  time.Time
}

// NewBatch returns a Batch that stores items with save; st nil stores nothing.
func NewBatch[T any](st *store.Store, save func(ctx context.Context, tx *sql.Tx, items []T) error) *Batch[T] {
	return &Batch[T]{st: st, save: save, Size: BatchSize}
}

// Add queues v and commits the queue when it is full.
func (b *Batch[T]) Add(ctx context.Context, v T) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.st == nil {
		return nil
	}
	if len(b.items) == 0 {
		b.last = time.Now()
	}
	b.items = append(b.items, v)
	if len(b.items) < b.Size && (b.Every <= 0 || time.Since(b.last) < b.Every) {
		return nil
	}
	return b.commit(ctx, nil)
}

// Flush commits what is queued and, in the same transaction, with (which
// may be nil): whatever with writes lands with the items or not at all.
// with gets a context that is not cancelled with ctx.
func (b *Batch[T]) Flush(ctx context.Context, with func(context.Context, *sql.Tx) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.st == nil {
		return nil
	}
	return b.commit(ctx, with)
}

// Saved returns how many items were committed.
func (b *Batch[T]) Saved() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.saved
}

// commit writes the queue and with in one transaction (b.mu held).
func (b *Batch[T]) commit(ctx context.Context, with func(context.Context, *sql.Tx) error) error {
	if len(b.items) == 0 && with == nil {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	err := b.st.Tx(ctx, func(tx *sql.Tx) error {
		if len(b.items) > 0 {
			if err := b.save(ctx, tx, b.items); err != nil {
				return err
			}
		}
		if with != nil {
			return with(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.saved += len(b.items)
	b.items = b.items[:0]
	return nil
}
