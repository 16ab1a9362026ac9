-- PostgreSQL's 00190 orders the deletions of several passkeys against other
-- writes to the passkey counters with an advisory lock, so that two of them
-- cannot deadlock. SQLite has one writer at a time, which orders them
-- already; this version keeps both backends' schema versions the same.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
