-- Flow telemetry (package internal/flow): hourly roll-ups per device and
-- destination country/owner, device↔peer relations per ingest run, DNS
-- answers seen, and detector alerts. Times are TEXT RFC 3339 like the core
-- tables; counters are BIGINT. Every attribution names its database and
-- version (country_db, owner_db). Rows are only inserted, never updated,
-- so the tables carry plain indexes instead of primary keys.

-- +goose Up
CREATE TABLE flow_hourly (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    hour TEXT NOT NULL,
    device TEXT NOT NULL,
    known INTEGER NOT NULL DEFAULT 0,
    outbound INTEGER NOT NULL,
    country TEXT NOT NULL DEFAULT '',
    asn BIGINT NOT NULL DEFAULT 0,
    owner TEXT NOT NULL DEFAULT '',
    country_db TEXT NOT NULL DEFAULT '',
    owner_db TEXT NOT NULL DEFAULT '',
    flows BIGINT NOT NULL,
    packets BIGINT NOT NULL,
    bytes BIGINT NOT NULL
);
CREATE INDEX flow_hourly_device ON flow_hourly (device, hour);

CREATE TABLE flow_peers (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    device TEXT NOT NULL,
    peer TEXT NOT NULL,
    proto INTEGER NOT NULL,
    port INTEGER NOT NULL,
    outbound INTEGER NOT NULL,
    known INTEGER NOT NULL DEFAULT 0,
    flows BIGINT NOT NULL,
    packets BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    country TEXT NOT NULL DEFAULT '',
    asn BIGINT NOT NULL DEFAULT 0,
    owner TEXT NOT NULL DEFAULT '',
    country_db TEXT NOT NULL DEFAULT '',
    owner_db TEXT NOT NULL DEFAULT ''
);
CREATE INDEX flow_peers_device ON flow_peers (device);

CREATE TABLE flow_dns (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    addr TEXT NOT NULL
);
CREATE INDEX flow_dns_addr ON flow_dns (addr);

CREATE TABLE flow_alerts (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    device TEXT NOT NULL,
    detector TEXT NOT NULL,
    peer TEXT NOT NULL DEFAULT '',
    known INTEGER NOT NULL DEFAULT 0,
    inbound INTEGER NOT NULL DEFAULT 0,
    seen_at TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX flow_alerts_day ON flow_alerts (day, device);

-- +goose Down
DROP TABLE flow_alerts;
DROP TABLE flow_dns;
DROP TABLE flow_peers;
DROP TABLE flow_hourly;
