-- What a flow alert was about (package internal/flow): the service the actor
-- contacted (port, IP protocol), the actor's source port, the packet sampling
-- rate of the telemetry it was decided on, and the detector's sub-scores as a
-- JSON object (beaconing: interval, size, count, histogram, score). The
-- Shadowserver-style export fills its port and protocol columns from them.

-- +goose Up
ALTER TABLE flow_alerts ADD COLUMN src_port INTEGER NOT NULL DEFAULT 0;
ALTER TABLE flow_alerts ADD COLUMN port INTEGER NOT NULL DEFAULT 0;
ALTER TABLE flow_alerts ADD COLUMN proto INTEGER NOT NULL DEFAULT 0;
ALTER TABLE flow_alerts ADD COLUMN sampling BIGINT NOT NULL DEFAULT 0;
ALTER TABLE flow_alerts ADD COLUMN scores TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE flow_alerts DROP COLUMN scores;
ALTER TABLE flow_alerts DROP COLUMN sampling;
ALTER TABLE flow_alerts DROP COLUMN proto;
ALTER TABLE flow_alerts DROP COLUMN port;
ALTER TABLE flow_alerts DROP COLUMN src_port;
