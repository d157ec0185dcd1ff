-- The device inventory (store/devices.go): one row per device, as
-- stats.Population defines one (an address with an open service or an
-- accepted weak credential) or as the flow detectors name one (the device
-- of an outbound alert), with what the inventory filters on. It is derived
-- from the evidence tables when a run ends (IndexDevices), never written by
-- hand, and can be rebuilt from them at any time.
-- addr is the address as 16 bytes (IPv4 mapped), which sorts by address:
-- pages are keyset ranges on it and a subnet is one range.

-- +goose Up
CREATE TABLE devices (
    ip TEXT PRIMARY KEY,
    addr {{BLOB}} NOT NULL,
    vendor TEXT NOT NULL DEFAULT '',
    product TEXT NOT NULL DEFAULT '',
    device_type TEXT NOT NULL DEFAULT '',
    vendor_key TEXT NOT NULL DEFAULT '',
    product_key TEXT NOT NULL DEFAULT '',
    type_key TEXT NOT NULL DEFAULT '',
    protocols TEXT NOT NULL DEFAULT '',
    scanned INTEGER NOT NULL DEFAULT 0,
    weak INTEGER NOT NULL DEFAULT 0,
    weak_on TEXT NOT NULL DEFAULT '',
    vulns INTEGER NOT NULL DEFAULT 0,
    kev INTEGER NOT NULL DEFAULT 0,
    epss DOUBLE PRECISION NOT NULL DEFAULT 0,
    tier TEXT NOT NULL DEFAULT '',
    alert_days INTEGER NOT NULL DEFAULT 0,
    last_alert_day TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL DEFAULT '',
    last_seen TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX devices_addr ON devices (addr);
CREATE INDEX devices_vendor ON devices (vendor_key, addr);
CREATE INDEX devices_product ON devices (product_key, addr);
CREATE INDEX devices_type ON devices (type_key, addr);
CREATE INDEX devices_weak ON devices (weak, addr);
CREATE INDEX devices_kev ON devices (kev, addr);
CREATE INDEX devices_tier ON devices (tier, addr);

-- The protocols each device exposes (and whether a weak credential was
-- accepted on it), for the protocol filter.
CREATE TABLE device_protocols (
    protocol TEXT NOT NULL,
    addr {{BLOB}} NOT NULL,
    weak INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (protocol, addr)
);
CREATE INDEX device_protocols_addr ON device_protocols (addr);

-- The runs whose evidence the inventory holds.
CREATE TABLE device_index_runs (
    run_id BIGINT PRIMARY KEY,
    indexed_at TEXT NOT NULL
);

-- What re-indexing a device and its page read: the evidence of one address.
CREATE INDEX credentials_ip ON credentials (ip);
CREATE INDEX vuln_matches_subject ON vuln_matches (subject);
CREATE INDEX findings_subject ON findings (subject, kind);
CREATE INDEX flow_alerts_device ON flow_alerts (device, day);

-- +goose Down
DROP INDEX flow_alerts_device;
DROP INDEX findings_subject;
DROP INDEX vuln_matches_subject;
DROP INDEX credentials_ip;
DROP TABLE device_index_runs;
DROP TABLE device_protocols;
DROP TABLE devices;
