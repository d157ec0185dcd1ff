-- National vulnerability archives, VEX statements and re-match differences
-- (internal/vuln).
--
-- vuln_archive: records of national archives (CNVD, JVN iPedia, EUVD) under
-- their own ids, with the CVEs they cross-reference (comma-joined), the
-- affected products as text (newline-joined), their own severity and the
-- IoT classification; year is the archive's publication year.
--
-- vuln_vex: VEX statements (OpenVEX, CycloneDX VEX) about a product (a
-- purl, CPE or product name, lower-case) and a vulnerability: status
-- not_affected (with justification), affected, fixed or
-- under_investigation; doc is the document id, kept as evidence.
--
-- vuln_rematch_changes: what a re-match run (runs.kind = 'rematch') found
-- changed since the matches it compared with: new, withdrawn or fixed.

-- +goose Up
CREATE TABLE vuln_archive (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    cves TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    published TEXT NOT NULL DEFAULT '',
    year INTEGER NOT NULL DEFAULT 0,
    last_modified TEXT NOT NULL DEFAULT '',
    severity TEXT NOT NULL DEFAULT '',
    cvss DOUBLE PRECISION NOT NULL DEFAULT 0,
    cvss_vector TEXT NOT NULL DEFAULT '',
    products TEXT NOT NULL DEFAULT '',
    iot INTEGER NOT NULL DEFAULT 0,
    iot_reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (source, id)
);
CREATE INDEX vuln_archive_year ON vuln_archive (source, year);

CREATE TABLE vuln_vex (
    doc TEXT NOT NULL,
    product TEXT NOT NULL,
    cve TEXT NOT NULL,
    status TEXT NOT NULL,
    justification TEXT NOT NULL DEFAULT '',
    statement TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '',
    issued TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (doc, product, cve)
);
CREATE INDEX vuln_vex_cve ON vuln_vex (cve);

CREATE TABLE vuln_rematch_changes (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    port INTEGER NOT NULL DEFAULT 0,
    cve TEXT NOT NULL,
    change TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, subject, port, cve)
);

-- +goose Down
DROP TABLE vuln_rematch_changes;
DROP TABLE vuln_vex;
DROP TABLE vuln_archive;
