-- The software components a firmware run identified (internal/firmware),
-- kept so that a re-match (internal/vuln Rematch) matches every component
-- again, including those that had no known vulnerability or whose every
-- match a distribution backport fixed. cpe is the component's CPE 2.3 name,
-- distro its distribution package as JSON ('' when it has none).

-- +goose Up
CREATE TABLE firmware_components (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    cpe TEXT NOT NULL,
    distro TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, subject, cpe, distro)
);

-- +goose Down
DROP TABLE firmware_components;
