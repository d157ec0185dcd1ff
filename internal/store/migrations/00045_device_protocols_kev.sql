-- The KEV flag of each device copied into its protocol rows
-- (store/devindex.go writes both in one transaction), so that "KEV and a
-- protocol" is one index range in address order, counted without reading
-- the devices (store/devices.go): through devices_kev and a probe of the
-- protocol per device, the bounded count read ~2,000 rows of two indexes
-- for the Hikvision and TP-Link telnet devices of the console bench.

-- +goose Up
ALTER TABLE device_protocols ADD COLUMN kev INTEGER NOT NULL DEFAULT 0;
UPDATE device_protocols SET kev = 1 WHERE addr IN (SELECT addr FROM devices WHERE kev = 1);
CREATE INDEX device_protocols_kev ON device_protocols (protocol, kev, addr);

-- +goose Down
DROP INDEX device_protocols_kev;
ALTER TABLE device_protocols DROP COLUMN kev;
