-- flow_inputs by size: an ingest asks whether any input of a file's size was
-- recorded before hashing the file ahead of reading it (package
-- internal/flow/ingest); most files are new and are hashed while read.

-- +goose Up
CREATE INDEX flow_inputs_size ON flow_inputs (size);

-- +goose Down
DROP INDEX flow_inputs_size;
