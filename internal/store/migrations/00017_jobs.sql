-- Jobs (package jobs) run on River, whose tables River's own migrations
-- create beside ours (rivermigrate). Ours: the run each job records its work
-- as (one per job: a retried attempt carries on with the run of the attempt
-- before, so what it stores again replaces what was stored), and the
-- recurring schedules every worker loads into River's periodic jobs.

-- +goose Up
CREATE TABLE job_runs (
    job_id BIGINT PRIMARY KEY,
    run_id BIGINT NOT NULL
);
CREATE TABLE job_schedules (
    name       TEXT PRIMARY KEY,
    every_ms   BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    args       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE job_schedules;
DROP TABLE job_runs;
