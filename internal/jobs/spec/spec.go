// Package spec holds what describes a job of package jobs — its kinds, the
// requests and arguments it is submitted with, and the job, progress and
// schedule records shown back — without the code that runs jobs. The
// dashboard's console submits and lists jobs through these types, so it
// links no scanning, credential-audit or login code (package jobs runs them).
package spec

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/riverqueue/river"
)

// Kinds of job; each kind has a queue of its own so that a worker bounds
// the concurrency of each.
const (
	KindScan     = "scan"
	KindAudit    = "audit"
	KindVulns    = "vulns"
	KindFirmware = "firmware"
	KindReport   = "report"
	KindSchedule = "schedule"
	KindFlows    = "flows"
)

// ErrNotFound reports a job or schedule that does not exist.
var ErrNotFound = errors.New("not found")

// ScanRequest is a scan to run as jobs: the flags of `iotwatch scan` that a
// worker needs, as data. Files it names (lists) must exist on the workers.
type ScanRequest struct {
	Targets            []string      `json:"targets"`
	Ports              string        `json:"ports,omitempty"`
	Blocklist          []string      `json:"blocklist,omitempty"`
	Allowlist          []string      `json:"allowlist,omitempty"`
	NoDefaultBlocklist bool          `json:"no_default_blocklist,omitempty"`
	Rate               int           `json:"rate,omitempty"` // probes/s per shard (0: scan's default, -1: unlimited)
	AllowLarge         bool          `json:"allow_large,omitempty"`
	Concurrency        int           `json:"concurrency,omitempty"`
	Timeout            time.Duration `json:"timeout,omitempty"`
	Seed               uint64        `json:"seed,omitempty"` // 0: chosen at submission, shared by the shards
	Shards             int           `json:"shards"`
	DiscoveryOnly      bool          `json:"discovery_only,omitempty"`
	Communities        []string      `json:"communities,omitempty"`
	// Audit, when set, audits the login surfaces each shard found.
	Audit *AuditRequest `json:"audit,omitempty"`
}

// AuditRequest tunes the audit batches of a scan (`iotwatch audit` flags).
type AuditRequest struct {
	MaxAttempts int           `json:"max_attempts,omitempty"`
	PerHost     int           `json:"per_host,omitempty"`
	Concurrency int           `json:"concurrency,omitempty"`
	Delay       time.Duration `json:"delay,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	All         bool          `json:"all,omitempty"`
}

// ScanArgs is a scan shard job: shard Shard of Request.Shards of the
// permuted (address, port) space, recorded as a run under Group.
type ScanArgs struct {
	Request ScanRequest `json:"request"`
	Shard   int         `json:"shard"`
	Group   int64       `json:"group"` // the submission's run
}

// Kind implements river.JobArgs.
func (ScanArgs) Kind() string { return KindScan }

// InsertOpts puts scan shards on their own queue.
func (ScanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: KindScan, MaxAttempts: 10}
}

// Submitted is what a submission created.
type Submitted struct {
	Group int64   `json:"group"` // the run that stands for the whole scan
	Jobs  []int64 `json:"jobs"`
}

// ErrBadRequest reports a request that cannot run (bad targets, ports…).
var ErrBadRequest = errors.New("bad request")

// AuditArgs is an audit batch: the login surfaces among the services scan
// run Run stored, or scan runs Runs stored on the hosts of part Part of
// Parts (a scan's batches after its last shard, split by host), only Hosts
// when set (a follow-up batch), audited as a run under Group on the
// addresses Targets name.
type AuditArgs struct {
	Run     int64        `json:"run,omitempty"`
	Runs    []int64      `json:"runs,omitempty"`
	Part    int          `json:"part,omitempty"`
	Parts   int          `json:"parts,omitempty"`
	Group   int64        `json:"group"`
	Targets []string     `json:"targets"`
	Hosts   []string     `json:"hosts,omitempty"`
	Audit   AuditRequest `json:"audit"`
}

// Kind implements river.JobArgs.
func (AuditArgs) Kind() string { return KindAudit }

// InsertOpts puts audit batches on their own queue.
func (AuditArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: KindAudit, MaxAttempts: 10}
}

// ReportArgs builds the report of the newest evidence into Dir (on the
// worker's file system) in Formats (default html and json).
type ReportArgs struct {
	Dir     string   `json:"dir"`
	Formats []string `json:"formats,omitempty"`
	Title   string   `json:"title,omitempty"`
}

// Kind implements river.JobArgs.
func (ReportArgs) Kind() string { return KindReport }

// InsertOpts puts report builds on their own queue.
func (ReportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: KindReport, MaxAttempts: 3}
}

// Job is a job as the CLI, the console and the API show it.
type Job struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	State       string          `json:"state"` // River's: available, running, completed, retryable, cancelled, discarded, scheduled
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	Args        json.RawMessage `json:"args"`
	Errors      []string        `json:"errors,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	AttemptedAt *time.Time      `json:"attempted_at,omitempty"`
	FinalizedAt *time.Time      `json:"finalized_at,omitempty"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	AttemptedBy []string        `json:"attempted_by,omitempty"` // the workers (River client ids) that ran it
	Run         int64           `json:"run,omitempty"`          // the run it records its work as
	Progress    *Progress       `json:"progress,omitempty"`
	// Lost, on the shard jobs of a scan that ended with shards that did not
	// complete, names those shards: the scan's audit covers the others,
	// and its run (Args' group) is marked failed with them as its error.
	Lost []LostShard `json:"lost_shards,omitempty"`
}

// LostShard is a shard of a scan that reached a final state without
// completing: discarded after its last attempt failed, or cancelled.
type LostShard struct {
	Shard int    `json:"shard"`
	Job   int64  `json:"job"`
	State string `json:"state"` // discarded, cancelled, or removed (River's cleaner deleted the row)
}

// Progress is how far a scan shard is: steps of its walk finished (from
// the checkpoint committed with the services stored).
type Progress struct {
	Done  uint64 `json:"done"`
	Total uint64 `json:"total"`
}

// ListOptions filter List.
type ListOptions struct {
	Kinds  []string // empty: all
	States []string // empty: all
	Limit  int      // 0: 100
}

// Schedule is a recurring job: every Every, one of Scan (a sharded scan
// submitted afresh), Vulns (the stored inventory matched again) or Report
// (a report built into a directory).
type Schedule struct {
	Name    string        `json:"name"`
	Every   time.Duration `json:"every"`
	Scan    *ScanRequest  `json:"scan,omitempty"`
	Vulns   bool          `json:"vulns,omitempty"`
	Report  *ReportArgs   `json:"report,omitempty"`
	Created time.Time     `json:"created"`
}

// Kind names what the schedule runs.
func (s Schedule) Kind() string {
	switch {
	case s.Scan != nil:
		return KindScan
	case s.Report != nil:
		return KindReport
	case s.Vulns:
		return KindVulns
	}
	return ""
}

// MinEvery is the shortest period of a schedule.
const MinEvery = time.Second

// ErrExists reports a schedule name already taken.
var ErrExists = errors.New("already exists")
