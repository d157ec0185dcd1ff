-- Scan checkpoints for `iotwatch scan --resume` (owned by internal/scan).
-- seed, position and steps are unsigned 64-bit values kept as decimal TEXT.

-- +goose Up
CREATE TABLE scan_checkpoints (
    run_id BIGINT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    seed TEXT NOT NULL,
    shard INTEGER NOT NULL,
    shards INTEGER NOT NULL,
    position TEXT NOT NULL,
    steps TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE scan_checkpoints;
