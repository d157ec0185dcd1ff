// Package stage runs iotwatch's pipeline stages — scan, audit, vulnerability
// match, firmware analysis, flow ingest, assessment, report — and records
// them as runs. The CLI, the demo and distributed workers call the same
// functions, so a stage behaves the same wherever it runs: the CLI only
// parses flags and prints, and nothing here parses flags or prints.
//
// The stages: Scan (with PrepareResume), Vulns (VulnsOfRun), Rematch,
// Audit, Firmware, Flows, Assess, and the report
// (WireReport, BuildReport, WriteReport). Each takes a context, the store and
// its options; results go to the store and back to the caller, progress
// through callbacks, never to a terminal.
//
// A Run is the bookkeeping every stage shares: started with its owner and a
// heartbeat (see store.StartRun), finished as complete, interrupted (its
// context was cancelled: Ctrl-C, SIGTERM) or failed. A Batch saves results
// in transactions of a few hundred, each committing whatever must move with
// them (a scan's checkpoint) so that nothing is skipped after a crash.
package stage
