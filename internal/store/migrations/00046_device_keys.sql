-- The distinct vendor and product keys of the inventory, so that the text
-- search (store/devices.go) matches its substring against a few hundred
-- names and then reads the devices of the matching names through
-- devices_vendor and devices_product, instead of testing the pattern on
-- every device: the bounded count of a common name read ~8,000 rows of
-- devices_text for 1,001 matches over 100,000 devices. Rows are only
-- added (store/devindex.go); a name no device has any more matches no
-- device, so the table may hold more names than the devices do.

-- +goose Up
CREATE INDEX devices_product_vendor ON devices (product_key, vendor_key, addr);
CREATE TABLE device_keys (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
INSERT INTO device_keys (kind, name) SELECT DISTINCT 'vendor', vendor_key FROM devices WHERE vendor_key <> '';
INSERT INTO device_keys (kind, name) SELECT DISTINCT 'product', product_key FROM devices WHERE product_key <> '';

-- +goose Down
DROP TABLE device_keys;
DROP INDEX devices_product_vendor;
