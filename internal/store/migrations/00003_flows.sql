-- Flow telemetry (package internal/flow): per device and run, hourly
-- roll-ups by destination country/owner and device↔peer relations; DNS
-- answers seen; detector alerts. Times are TEXT RFC 3339 like the core
-- tables; counters are BIGINT. Every attribution names its database and
-- version (country_db, owner_db).

-- +goose Up
-- One row per device and run; the hourly roll-ups are a JSON array of
-- [hour_unix, outbound, country, asn, owner, flows, packets, bytes] in
-- "hours", the relations a JSON array of
-- [peer, proto, port, outbound, flows, packets, bytes, first_ns, last_ns,
--  country, asn, owner] in "peers". Ten to a hundred times fewer rows than
-- one row per roll-up, which is what keeps ingest fast on SQLite.
CREATE TABLE flow_devices (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    device TEXT NOT NULL,
    known INTEGER NOT NULL DEFAULT 0,
    first_hour TEXT NOT NULL,
    last_hour TEXT NOT NULL,
    flows BIGINT NOT NULL,
    packets BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    country_db TEXT NOT NULL DEFAULT '',
    owner_db TEXT NOT NULL DEFAULT '',
    hours TEXT NOT NULL,
    peers TEXT NOT NULL,
    PRIMARY KEY (run_id, device)
);
CREATE INDEX flow_devices_device ON flow_devices (device);

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
DROP TABLE flow_devices;
