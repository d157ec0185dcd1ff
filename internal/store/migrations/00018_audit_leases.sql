-- Audit batches on several workers keep the per-host safety rules (one
-- attempt at a time per host, back-off after a lockout) by leasing each host
-- to one job at a time: a lease ends with its job's completion (in the same
-- transaction) or at expires_at when its worker died.

-- +goose Up
CREATE TABLE audit_host_leases (
    ip         TEXT PRIMARY KEY,
    job_id     BIGINT NOT NULL,
    expires_at BIGINT NOT NULL -- Unix milliseconds
);

-- +goose Down
DROP TABLE audit_host_leases;
