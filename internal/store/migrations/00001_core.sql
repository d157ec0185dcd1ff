-- Core tables: runs and the evidence the scan and audit stages produce.
-- Portable SQL for SQLite and PostgreSQL; {{ID}} is the dialect's auto-id primary key.
-- Times are TEXT in RFC 3339 (UTC, nanoseconds), so they sort and compare as strings.

-- +goose Up
CREATE TABLE runs (
    id {{ID}},
    kind TEXT NOT NULL,
    targets TEXT NOT NULL DEFAULT '[]',
    stages TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL DEFAULT '',
    counts TEXT NOT NULL DEFAULT '{}',
    error TEXT NOT NULL DEFAULT ''
);

CREATE TABLE assets (
    ip TEXT PRIMARY KEY,
    hostname TEXT NOT NULL DEFAULT '',
    vendor TEXT NOT NULL DEFAULT '',
    product TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL DEFAULT '',
    device_type TEXT NOT NULL DEFAULT '',
    cpe TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);

CREATE TABLE services (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    port INTEGER NOT NULL,
    transport TEXT NOT NULL,
    protocol TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    banner TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    seen_at TEXT NOT NULL,
    PRIMARY KEY (run_id, ip, port, transport)
);
CREATE INDEX services_ip ON services (ip);

CREATE TABLE credentials (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    port INTEGER NOT NULL,
    protocol TEXT NOT NULL,
    username TEXT NOT NULL,
    password TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    lockout_suspected INTEGER NOT NULL DEFAULT 0,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (run_id, ip, port, protocol, username, password)
);

CREATE TABLE vuln_matches (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    port INTEGER NOT NULL DEFAULT 0,
    cve TEXT NOT NULL,
    cpe TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, subject, port, cve, cpe)
);

CREATE TABLE findings (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    data TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (run_id, kind, subject, title)
);

-- +goose Down
DROP TABLE findings;
DROP TABLE vuln_matches;
DROP TABLE credentials;
DROP TABLE services;
DROP TABLE assets;
DROP TABLE runs;
