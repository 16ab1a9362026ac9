-- Conditional access (issue 8): policies, custom authentication strengths
-- and named locations, each a Graph JSON document, and one version row that
-- every change locks and increments (the configuration's cheap version check,
-- and the lock that keeps rules spanning documents inside one transaction).

-- +goose Up
CREATE TABLE access_objects (
    kind         TEXT NOT NULL,
    id           TEXT NOT NULL,
    display_name TEXT NOT NULL,
    -- lower(display name): the listing order.
    name_key     TEXT NOT NULL,
    data         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    modified_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX access_objects_order ON access_objects (kind, name_key, id);

CREATE TABLE access_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO access_version (id, version) VALUES (1, 0);

-- +goose Down
DROP TABLE access_version;
DROP TABLE access_objects;
