// Package crashtest is iotwatch's crash-consistency harness. Its tests build
// the iotwatch binary, run scan, audit, flows ingest, vulndb import and
// firmware analyze against loopback work, interrupt them with SIGINT and
// SIGKILL at random moments, resume or re-run them, and compare the store
// with an uninterrupted run of the same work: nothing lost, nothing
// duplicated, the database intact (SQLite integrity_check), on SQLite and,
// when IOTWATCH_TEST_PG names a server, on PostgreSQL.
//
// The tests run a short campaign by default (a few kills per command, as CI
// does); IOTWATCH_CRASH_ITER=N runs N interrupted runs per command and
// backend (bench/crash/crash.sh), IOTWATCH_CRASH_SEED fixes the kill times.
// The package has no code outside its tests.
package crashtest
