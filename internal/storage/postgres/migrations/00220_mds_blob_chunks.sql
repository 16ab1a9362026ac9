-- The MDS blob (about 6 MB) is stored in chunks, each written in a short
-- transaction of its own, and switched in by inserting its small row in
-- mds_blobs last (SQLite's reason: its one writer was held for the whole
-- blob; PostgreSQL keeps the same schema and code). A chunk belongs to one
-- store attempt (upload); chunks no committed row names are an attempt that
-- lost or crashed, swept by the next store. The chunks are stored
-- uncompressed: the blob is base64 text of mostly compressed pictures, and
-- pglz would spend the shared machine's CPU for little. The blobs already
-- stored become one upload each, in chunks of 128 KiB.

-- +goose Up
CREATE TABLE mds_blob_chunks (
    upload TEXT NOT NULL,
    number BIGINT NOT NULL,
    seq    INTEGER NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (upload, seq)
);
ALTER TABLE mds_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

INSERT INTO mds_blob_chunks (upload, number, seq, data)
SELECT 'stored-' || b.number, b.number, s.seq, substring(b.raw FROM s.seq * 131072 + 1 FOR 131072)
FROM mds_blobs b, generate_series(0, GREATEST(length(b.raw) - 1, 0) / 131072) AS s (seq);

ALTER TABLE mds_blobs ADD COLUMN upload TEXT, ADD COLUMN size BIGINT;
UPDATE mds_blobs SET upload = 'stored-' || number, size = length(raw);
ALTER TABLE mds_blobs ALTER COLUMN upload SET NOT NULL, ALTER COLUMN size SET NOT NULL,
    ADD CONSTRAINT mds_blobs_upload UNIQUE (upload), DROP COLUMN raw;

-- +goose Down
ALTER TABLE mds_blobs ADD COLUMN raw BYTEA;
UPDATE mds_blobs b SET raw = (SELECT string_agg(c.data, ''::bytea ORDER BY c.seq) FROM mds_blob_chunks c
    WHERE c.upload = b.upload);
ALTER TABLE mds_blobs ALTER COLUMN raw SET NOT NULL, DROP COLUMN upload, DROP COLUMN size;
DROP TABLE mds_blob_chunks;
