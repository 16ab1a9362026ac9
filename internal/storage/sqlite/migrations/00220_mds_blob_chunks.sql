-- The MDS blob (about 6 MB) is stored in chunks, each written in a short
-- transaction of its own, and switched in by inserting its small row in
-- mds_blobs last: one transaction that held SQLite's one writer for the
-- whole blob made every sign-in commit meanwhile wait (issue 11). A chunk
-- belongs to one store attempt (upload); chunks no committed row names are
-- an attempt that lost or crashed, swept by the next store. The blobs
-- already stored become one upload each, in chunks of 128 KiB.

-- +goose Up
CREATE TABLE mds_blob_chunks (
    upload TEXT NOT NULL,
    number INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (upload, seq)
) STRICT;

CREATE TABLE mds_blobs_chunked (
    number      INTEGER PRIMARY KEY,
    next_update INTEGER NOT NULL,
    source      TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    upload      TEXT NOT NULL UNIQUE,
    size        INTEGER NOT NULL
) STRICT;

WITH RECURSIVE parts (number, seq) AS (
    SELECT number, 0 FROM mds_blobs
    UNION ALL
    SELECT p.number, p.seq + 1 FROM parts p JOIN mds_blobs b ON b.number = p.number
    WHERE (p.seq + 1) * 131072 < length(b.raw)
)
INSERT INTO mds_blob_chunks (upload, number, seq, data)
SELECT 'stored-' || p.number, p.number, p.seq, COALESCE(substr(b.raw, p.seq * 131072 + 1, 131072), X'')
FROM parts p JOIN mds_blobs b ON b.number = p.number;

INSERT INTO mds_blobs_chunked (number, next_update, source, imported_at, upload, size)
SELECT number, next_update, source, imported_at, 'stored-' || number, length(raw) FROM mds_blobs;

DROP TABLE mds_blobs;
ALTER TABLE mds_blobs_chunked RENAME TO mds_blobs;

-- +goose Down
CREATE TABLE mds_blobs_whole (
    number      INTEGER PRIMARY KEY,
    next_update INTEGER NOT NULL,
    raw         BLOB NOT NULL,
    source      TEXT NOT NULL,
    imported_at INTEGER NOT NULL
) STRICT;

WITH RECURSIVE joined (upload, seq, raw) AS (
    SELECT upload, 0, data FROM mds_blob_chunks WHERE seq = 0
    UNION ALL
    SELECT j.upload, c.seq, CAST(j.raw || c.data AS BLOB) FROM joined j
    JOIN mds_blob_chunks c ON c.upload = j.upload AND c.seq = j.seq + 1
)
INSERT INTO mds_blobs_whole (number, next_update, raw, source, imported_at)
SELECT b.number, b.next_update, CAST(j.raw AS BLOB), b.source, b.imported_at FROM mds_blobs b
JOIN joined j ON j.upload = b.upload
WHERE j.seq = (SELECT MAX(seq) FROM mds_blob_chunks c WHERE c.upload = b.upload);

DROP TABLE mds_blobs;
DROP TABLE mds_blob_chunks;
ALTER TABLE mds_blobs_whole RENAME TO mds_blobs;
