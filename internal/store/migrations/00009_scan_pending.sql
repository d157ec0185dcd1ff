-- Positions below a scan checkpoint that were still in flight when it was
-- taken (comma-separated decimals), so a resumed scan redoes only them and
-- continues from the checkpoint instead of from the oldest of them.

-- +goose Up
ALTER TABLE scan_checkpoints ADD COLUMN pending TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE scan_checkpoints DROP COLUMN pending;
