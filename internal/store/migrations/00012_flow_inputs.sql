-- File inputs of flow ingests (package internal/flow/ingest): what was read
-- of each capture, log or export, so that ingesting it again is recognised.
-- size is how many bytes from the file's start were ingested and sha256 their
-- digest: the same bytes again (under any name) are skipped, and a file that
-- grew since (the recorded bytes are its prefix) is read from size on.

-- +goose Up
CREATE TABLE flow_inputs (
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    ingested TEXT NOT NULL,
    PRIMARY KEY (sha256, size)
);
CREATE INDEX flow_inputs_path ON flow_inputs (path);

-- +goose Down
DROP TABLE flow_inputs;
