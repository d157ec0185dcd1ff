-- flow_devices rows hold a device's hourly roll-ups and relations in a
-- compact binary form (package flow, rowcodec.go: a format byte, then
-- varints; the attributions once per row), about a sixth of the JSON arrays
-- "hours" and "peers", which new rows leave empty. Rows written before keep
-- their arrays, and packed NULL; readers take packed when it is set.
-- On PostgreSQL, adding the column to the partitioned parent adds it to
-- every partition, and partitions made later take it from the parent.

-- +goose Up
ALTER TABLE flow_devices ADD COLUMN packed {{BLOB}};

-- +goose Down
ALTER TABLE flow_devices DROP COLUMN packed;
