// Package jobs runs iotwatch's stages as jobs on River
// (github.com/riverqueue/river): scan shards, audit batches, vulnerability
// matches, firmware analyses and report builds, submitted by anyone, worked
// by any number of `iotwatch worker` processes, and recurring schedules
// through River's periodic jobs. River keeps its jobs in the evidence store's
// own database, so a job's last results and its completion commit in one
// transaction: nothing is lost and nothing is stored twice when a job is
// retried on another worker. Every job works through package stage, so it
// behaves exactly as the CLI command that runs the same stage.
//
// Drivers: on PostgreSQL River's database/sql driver (riverdatabasesql) on
// the store's pool (pgx's stdlib), with a pgx pool (riverpgxv5) for LISTEN;
// on the embedded SQLite default riversqlite on the store's one-connection
// pool, every writer (River's and ours) taking turns on it. Both give a
// River client over *sql.Tx, the store's transaction type, which is what
// lets river.JobCompleteTx and InsertManyTx run in the transaction that
// stores a job's results. River's tables are brought up to date by New
// (rivermigrate) under the store's migration lock.
//
// The API the CLI and the console use:
//
//	c, err := jobs.New(ctx, st)                     // migrates River's tables
//	sub, err := c.SubmitScan(ctx, jobs.ScanRequest{Targets: …, Shards: 8, Audit: &jobs.AuditRequest{}})
//	list, err := c.List(ctx, jobs.ListOptions{})    // newest first, with progress
//	j, err := c.Get(ctx, id)                        // Job.Progress: done/total of a running shard
//	j, err = c.Cancel(ctx, id)
//	err = c.AddSchedule(ctx, jobs.Schedule{Name: "daily", Every: 24 * time.Hour, Scan: &req})
//	scheds, err := c.ListSchedules(ctx); err = c.RemoveSchedule(ctx, "daily")
//	err = c.Work(ctx, jobs.WorkOptions{Concurrency: map[string]int{"scan": 2}}) // a worker, until ctx ends
//
// A scan split into N shards is N scan jobs sharing one seed, recorded as
// runs whose parent is the submission's run (one logical scan for reports).
// Each finished shard enqueues, in the transaction of its completion, the
// vulnerability match of what it found. Once the last shard has reached a
// final state the scan is settled, once (settle.go): the audit (when asked)
// is enqueued over what the completed shards found, split by host into as
// many batches as shards (a host's services come from every shard, so no
// two batches share a host and the batches run side by side), and shards
// discarded or cancelled are recorded as lost (Job.Lost, the scan's run
// failed with them as its error). The shard that completes last settles in
// its completion's transaction, the workers' sweep when the last one was
// discarded or cancelled. A retried shard continues from the checkpoint of its run (scan_checkpoints,
// committed with the services it covers); a retried audit batch re-audits
// into the same run, replacing its rows. Audit batches lease their hosts
// (audit_host_leases) so the per-host safety rules hold across workers: a
// host leased by another running batch is audited by a follow-up batch.
package jobs
