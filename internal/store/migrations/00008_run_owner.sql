-- Run ownership: the host and process that run a pipeline and when it last
-- said it was alive, so that a run whose process was killed (kill -9, power
-- loss) is recognised as abandoned instead of staying "running" for ever.

-- +goose Up
ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_status ON runs (status);

-- +goose Down
DROP INDEX runs_status;
ALTER TABLE runs DROP COLUMN heartbeat_at;
ALTER TABLE runs DROP COLUMN pid;
ALTER TABLE runs DROP COLUMN host;
