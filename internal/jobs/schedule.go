package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"iotwatch/internal/jobs/spec"
	"iotwatch/internal/store"
)

// AddSchedule stores s; every worker picks it up within its
// WorkOptions.ScheduleEvery, and River's leader enqueues it once per period.
func (c *Client) AddSchedule(ctx context.Context, s Schedule) error {
	if s.Name == "" || s.Every < MinEvery {
		return fmt.Errorf("%w: a schedule needs a name and a period of at least %s", ErrBadRequest, MinEvery)
	}
	n := 0
	for _, set := range []bool{s.Scan != nil, s.Vulns, s.Report != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: a schedule runs exactly one of scan, vulns, report", ErrBadRequest)
	}
	if s.Scan != nil {
		req := *s.Scan
		seed := req.Seed
		if err := checkRequest(ctx, &req); err != nil {
			return err
		}
		req.Seed = seed // each run draws its own unless one was named
		s.Scan = &req
	}
	s.Created = time.Now()
	args, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = c.st.DB().ExecContext(ctx, c.st.Rebind(`INSERT INTO job_schedules (name, every_ms, kind, args, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (name) DO NOTHING`), s.Name, s.Every.Milliseconds(), s.Kind(), string(args), store.Time(s.Created))
	if err != nil {
		return fmt.Errorf("add schedule %s: %w", s.Name, err)
	}
	got, err := c.schedule(ctx, s.Name)
	if err != nil {
		return err
	}
	if !got.Created.Equal(s.Created) {
		return fmt.Errorf("schedule %s: %w", s.Name, ErrExists)
	}
	return nil
}

// ListSchedules returns the stored schedules by name.
func (c *Client) ListSchedules(ctx context.Context) ([]Schedule, error) {
	rows, err := c.st.DB().QueryContext(ctx, `SELECT args FROM job_schedules ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	defer rows.Close()
	var out []Schedule
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		var s Schedule
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// RemoveSchedule deletes schedule name (ErrNotFound when there is none).
func (c *Client) RemoveSchedule(ctx context.Context, name string) error {
	res, err := c.st.DB().ExecContext(ctx, c.st.Rebind(`DELETE FROM job_schedules WHERE name = ?`), name)
	if err != nil {
		return fmt.Errorf("remove schedule %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("schedule %s: %w", name, ErrNotFound)
	}
	return nil
}

func (c *Client) schedule(ctx context.Context, name string) (Schedule, error) {
	var raw string
	err := c.st.DB().QueryRowContext(ctx, c.st.Rebind(`SELECT args FROM job_schedules WHERE name = ?`), name).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return Schedule{}, fmt.Errorf("schedule %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %s: %w", name, err)
	}
	var s Schedule
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return s, fmt.Errorf("schedule %s: %w", name, err)
	}
	return s, nil
}

// ScheduleArgs is one period's run of a schedule.
type ScheduleArgs struct {
	Name string `json:"name"`
}

// Kind implements river.JobArgs.
func (ScheduleArgs) Kind() string { return spec.KindSchedule }

// InsertOpts puts schedule runs on their own queue.
func (ScheduleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: spec.KindSchedule, MaxAttempts: 5}
}

type scheduleWorker struct {
	river.WorkerDefaults[ScheduleArgs]
	c *Client
}

// Work enqueues what the schedule runs, in the transaction of its
// completion: a period's work is enqueued once.
func (w *scheduleWorker) Work(ctx context.Context, job *river.Job[ScheduleArgs]) error {
	s, err := w.c.schedule(ctx, job.Args.Name)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(err) // removed since it was enqueued
	}
	if err != nil {
		return err
	}
	return w.c.st.Tx(ctx, func(tx *sql.Tx) error {
		switch {
		case s.Scan != nil:
			client := river.ClientFromContext[*sql.Tx](ctx)
			if _, err := w.c.submitScanTx(ctx, client, tx, *s.Scan); err != nil {
				return err
			}
		case s.Report != nil:
			if err := follow(ctx, tx, []river.InsertManyParams{{Args: *s.Report}}); err != nil {
				return err
			}
		case s.Vulns:
			if err := follow(ctx, tx, []river.InsertManyParams{{Args: VulnsArgs{}}}); err != nil {
				return err
			}
		}
		return complete(ctx, tx, job)
	})
}

// schedules keeps a River client's periodic jobs equal to the stored
// schedules. Every worker runs them; River runs periodic jobs on the
// elected leader only, and each period's job is unique for its period, so
// a schedule runs once per period however many workers are alive.
type schedules struct {
	c      *Client
	client *river.Client[*sql.Tx]
	mu     sync.Mutex
	loaded map[string]time.Duration
}

func newSchedules(c *Client, client *river.Client[*sql.Tx]) *schedules {
	return &schedules{c: c, client: client, loaded: map[string]time.Duration{}}
}

func (s *schedules) sync(ctx context.Context) error {
	list, err := s.c.ListSchedules(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]time.Duration{}
	for _, sc := range list {
		want[sc.Name] = sc.Every
	}
	for name, every := range s.loaded {
		if want[name] != every {
			s.client.PeriodicJobs().RemoveByID("schedule:" + name)
			delete(s.loaded, name)
		}
	}
	for name, every := range want {
		if _, ok := s.loaded[name]; ok {
			continue
		}
		args := ScheduleArgs{Name: name}
		pj := river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
			return args, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: every}}
		}, &river.PeriodicJobOpts{ID: "schedule:" + name})
		if _, err := s.client.PeriodicJobs().AddSafely(pj); err != nil {
			return fmt.Errorf("schedule %s: %w", name, err)
		}
		s.loaded[name] = every
	}
	return nil
}
