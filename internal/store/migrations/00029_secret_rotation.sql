-- Key rotation (package internal/secret): when the key file names a new key
-- first and keeps older ones after it, the next writing open re-seals every
-- value under the new key and records here when it did, per key.

-- +goose Up
ALTER TABLE secret_keys ADD COLUMN resealed_at TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE secret_keys DROP COLUMN resealed_at;
