-- The login accounts a firmware run proved (internal/firmware/secrets: a
-- cracked or empty /etc/shadow password), kept for the credential audit,
-- which tries them first on devices identified as the image's product.
-- data is the account as JSON with its password sealed (package secret);
-- image is the analysed image's path (its name names the product), sha256
-- its hash.

-- +goose Up
CREATE TABLE firmware_accounts (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    image TEXT NOT NULL,
    username TEXT NOT NULL,
    sha256 TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (run_id, image, username)
);

-- +goose Down
DROP TABLE firmware_accounts;
