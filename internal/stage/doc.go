// Package stage runs iotwatch's pipeline stages — scan, audit, vulnerability
// match, firmware analysis, flow ingest, assessment, report — and records
// them as runs. The CLI, the demo and distributed workers call the same
// functions, so a stage behaves the same wherever it runs: the CLI only
// parses flags and prints, and nothing here parses flags or prints.
//
// A Run is the bookkeeping every stage shares: started with its owner and a
// heartbeat (see store.StartRun), finished as complete, interrupted (its
// context was cancelled: Ctrl-C, SIGTERM) or failed. A Batch saves results
// in transactions of a few hundred, each committing whatever must move with
// them (a scan's checkpoint) so that nothing is skipped after a crash.
package stage
