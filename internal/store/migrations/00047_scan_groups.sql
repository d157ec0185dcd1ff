-- A sharded scan submitted as jobs (package jobs): its shard jobs, and
-- whether all of them have reached a final state (completed, cancelled or
-- discarded) and the scan was settled: its audit enqueued over what the
-- completed shards found, exactly once, and the shards lost recorded.

-- +goose Up
CREATE TABLE scan_groups (
    run_id     BIGINT PRIMARY KEY, -- the submission's run
    jobs       TEXT NOT NULL,      -- JSON: the shard jobs' ids, by shard
    request    TEXT NOT NULL,      -- JSON: the scan request (spec.ScanRequest)
    settled_at BIGINT,             -- Unix ms; NULL while a shard may still run
    lost       TEXT                -- JSON: the shards lost (spec.LostShard)
);
CREATE INDEX scan_groups_open ON scan_groups (settled_at);

-- +goose Down
DROP TABLE scan_groups;
