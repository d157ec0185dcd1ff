-- Flow telemetry (package internal/flow): hourly roll-ups per device and peer,
-- DNS answers seen, and detector alerts. Times are TEXT RFC 3339 like the core
-- tables; counters are BIGINT.

-- +goose Up
CREATE TABLE flow_rollups (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    hour TEXT NOT NULL,
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
    country_db TEXT NOT NULL DEFAULT '',
    asn BIGINT NOT NULL DEFAULT 0,
    owner TEXT NOT NULL DEFAULT '',
    owner_db TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, hour, device, peer, proto, port, outbound)
);
CREATE INDEX flow_rollups_device ON flow_rollups (device);

CREATE TABLE flow_dns (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    addr TEXT NOT NULL,
    PRIMARY KEY (run_id, name, addr)
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
    reason TEXT NOT NULL,
    PRIMARY KEY (run_id, day, device, detector, peer)
);
CREATE INDEX flow_alerts_day ON flow_alerts (day);

-- +goose Down
DROP TABLE flow_alerts;
DROP TABLE flow_dns;
DROP TABLE flow_rollups;
