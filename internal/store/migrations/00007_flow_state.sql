-- Detector carry-over state of a telemetry stream (package internal/flow):
-- what `flows ingest --continue STREAM` hands from one ingest to the next
-- (beacon series and the beacon alerts already raised), as the binary
-- document of internal/flow/detect.SaveState. One row per stream, replaced by
-- each ingest of it.

-- +goose Up
CREATE TABLE flow_state (
    stream TEXT PRIMARY KEY,
    run_id BIGINT NOT NULL,
    updated TEXT NOT NULL,
    data {{BLOB}} NOT NULL
);

-- +goose Down
DROP TABLE flow_state;
