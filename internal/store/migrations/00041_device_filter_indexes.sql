-- Composite indexes for the inventory's combined filters (store/devices.go
-- ListDevices): each serves its equality filters and the address order of
-- the page in one range, and covers the bounded count, where the
-- single-column indexes of 00030 read every row of a vendor or a type to
-- test the rest (weak Hikvision cameras: 7-17 ms over 100,000 devices).
-- devices_text covers the text search's scan (vendor and product keys with
-- the address), narrower than the table's rows.

-- +goose Up
CREATE INDEX devices_vendor_type_weak ON devices (vendor_key, type_key, weak, addr);
CREATE INDEX devices_vendor_weak ON devices (vendor_key, weak, addr);
CREATE INDEX devices_type_weak ON devices (type_key, weak, addr);
CREATE INDEX devices_text ON devices (addr, vendor_key, product_key);

-- +goose Down
DROP INDEX devices_text;
DROP INDEX devices_type_weak;
DROP INDEX devices_vendor_weak;
DROP INDEX devices_vendor_type_weak;
