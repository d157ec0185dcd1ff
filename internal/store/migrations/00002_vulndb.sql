-- Vulnerability database (internal/vuln): CVE records, the CPE index used to
-- find candidates, CWEs, the CISA KEV catalogue and update cursors.
-- Portable SQL for SQLite and PostgreSQL; times are TEXT RFC 3339.

-- +goose Up
CREATE TABLE vuln_cves (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    published TEXT NOT NULL DEFAULT '',
    year INTEGER NOT NULL DEFAULT 0,
    last_modified TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    cvss3 DOUBLE PRECISION NOT NULL DEFAULT 0,
    cvss3_vector TEXT NOT NULL DEFAULT '',
    cvss4 DOUBLE PRECISION NOT NULL DEFAULT 0,
    cvss4_vector TEXT NOT NULL DEFAULT '',
    cvss2 DOUBLE PRECISION NOT NULL DEFAULT 0,
    cvss2_vector TEXT NOT NULL DEFAULT '',
    cwes TEXT NOT NULL DEFAULT '',
    iot INTEGER NOT NULL DEFAULT 0,
    iot_reason TEXT NOT NULL DEFAULT '',
    kev_added TEXT NOT NULL DEFAULT '',
    kev_due TEXT NOT NULL DEFAULT '',
    aliases TEXT NOT NULL DEFAULT '',
    refs TEXT NOT NULL DEFAULT '',
    configs TEXT NOT NULL DEFAULT ''
);
CREATE INDEX vuln_cves_year ON vuln_cves (year);

CREATE TABLE vuln_cpes (
    product TEXT NOT NULL,
    vendor TEXT NOT NULL,
    part TEXT NOT NULL,
    cve TEXT NOT NULL,
    PRIMARY KEY (product, vendor, part, cve)
);
CREATE INDEX vuln_cpes_cve ON vuln_cpes (cve);

CREATE TABLE vuln_cwes (
    cve TEXT NOT NULL,
    cwe TEXT NOT NULL,
    PRIMARY KEY (cve, cwe)
);
CREATE INDEX vuln_cwes_cwe ON vuln_cwes (cwe);

CREATE TABLE vuln_kev (
    cve TEXT PRIMARY KEY,
    vendor TEXT NOT NULL DEFAULT '',
    product TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    date_added TEXT NOT NULL DEFAULT '',
    due_date TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL DEFAULT '',
    ransomware TEXT NOT NULL DEFAULT ''
);

CREATE TABLE vuln_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE vuln_meta;
DROP TABLE vuln_kev;
DROP TABLE vuln_cwes;
DROP TABLE vuln_cpes;
DROP TABLE vuln_cves;
