-- The days on which an outbound flow alert named each device of the
-- inventory (store/devindex.go), so that "compromised on a day" is an index
-- range in address order like the protocol filter, not a subquery.

-- +goose Up
CREATE TABLE device_alert_days (
    day TEXT NOT NULL,
    addr {{BLOB}} NOT NULL,
    PRIMARY KEY (day, addr)
);
CREATE INDEX device_alert_days_addr ON device_alert_days (addr);
-- Filled by the next indexing: every run is indexed again.
DELETE FROM device_index_runs;

-- +goose Down
DROP TABLE device_alert_days;
