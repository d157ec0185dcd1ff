-- What proved (or failed to prove) a credential result (package internal/audit):
-- the service's answers to the credential and to a deliberately wrong control
-- password (HTTP status codes, prompts, broker return codes). Results whose
-- control was accepted too are stored with kind 'unknown-verdict' and this
-- evidence, never as weak credentials.

-- +goose Up
ALTER TABLE credentials ADD COLUMN evidence TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE credentials DROP COLUMN evidence;
