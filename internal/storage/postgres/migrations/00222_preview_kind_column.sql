-- SQLite's 00222 indexes the passkeys' kinds as the one string the impact
-- preview reads. PostgreSQL reads the table in its own order and sorts in
-- the process (00221 says why); this version keeps both backends' schema
-- versions the same.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
