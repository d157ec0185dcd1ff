-- A resumed scan records the run it continues: the two (or more, when a
-- resumed scan is interrupted and resumed again) are one logical scan for the
-- report, the API and `iotwatch runs`. 0 means no parent.

-- +goose Up
ALTER TABLE runs ADD COLUMN parent_run BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE runs DROP COLUMN parent_run;
