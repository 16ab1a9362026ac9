-- users_privileged finds the global administrators and emergency accounts
-- (the passkey policy's impact preview and its lockout guard, issue 9)
-- without reading every user. SQLite's migration 00221 also adds
-- credentials_facts for the preview's read in its owners' order; here the
-- table is read in its own order and the process sorts: freshly loaded,
-- before a vacuum had marked the pages all-visible, the planner chose
-- another index and a sort for that order, which cost more.

-- +goose Up
CREATE INDEX users_privileged ON users (id) WHERE admin_role = 'global-admin' OR is_emergency_access;

-- +goose Down
DROP INDEX users_privileged;
