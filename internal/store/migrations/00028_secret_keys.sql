-- Secrets at rest (package internal/secret): found passwords, SNMP
-- communities and firmware secrets are sealed with a key kept outside the
-- database. This table records, without any key material, the identifiers of
-- the keys that sealed values here (so a reader without the key can say which
-- key it lacks) and when the plain-text values of older databases were sealed.

-- +goose Up
CREATE TABLE secret_keys (
    key_id TEXT PRIMARY KEY,
    first_used TEXT NOT NULL,
    plaintext_sealed_at TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE secret_keys;
