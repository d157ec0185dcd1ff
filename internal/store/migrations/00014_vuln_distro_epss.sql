-- Distribution advisories and EPSS scores (internal/vuln).
--
-- vuln_distro: ranges of distribution advisories (OSV records of the
-- Debian, Ubuntu and Alpine ecosystems), one row per CVE, release, source
-- package and range; versions are in the distribution's ordering. A stored
-- advisory is replaced as a whole (rows deleted by advisory id).
--
-- vuln_epss: the latest FIRST EPSS score per CVE; vuln_epss_history every
-- imported day's score; vuln_epss_files one row per imported score file
-- (its date and model version).

-- +goose Up
CREATE TABLE vuln_distro (
    advisory TEXT NOT NULL,
    cve TEXT NOT NULL,
    distro TEXT NOT NULL,
    rel TEXT NOT NULL DEFAULT '',
    package TEXT NOT NULL,
    introduced TEXT NOT NULL DEFAULT '',
    fixed TEXT NOT NULL DEFAULT '',
    last_affected TEXT NOT NULL DEFAULT ''
);
CREATE INDEX vuln_distro_pkg ON vuln_distro (distro, package);
CREATE INDEX vuln_distro_advisory ON vuln_distro (advisory);

CREATE TABLE vuln_epss (
    cve TEXT PRIMARY KEY,
    epss DOUBLE PRECISION NOT NULL,
    percentile DOUBLE PRECISION NOT NULL,
    score_date TEXT NOT NULL
);

CREATE TABLE vuln_epss_history (
    cve TEXT NOT NULL,
    score_date TEXT NOT NULL,
    epss DOUBLE PRECISION NOT NULL,
    percentile DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (cve, score_date)
);

CREATE TABLE vuln_epss_files (
    score_date TEXT PRIMARY KEY,
    model_version TEXT NOT NULL DEFAULT '',
    records INTEGER NOT NULL DEFAULT 0,
    imported TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE vuln_epss_files;
DROP TABLE vuln_epss_history;
DROP TABLE vuln_epss;
DROP TABLE vuln_distro;
