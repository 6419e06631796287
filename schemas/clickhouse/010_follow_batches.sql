-- `tilewatch follow` (services/ingest/follow/): where each followed file stands. One row per batch,
-- written BEFORE the batch's inserts (an intent): the file's identity (device, inode, SHA-256 of its
-- first line), the byte range [start_offset, end_offset) of complete lines the batch holds, their line
-- numbers, and the insert token (derived from identity and byte range). After a crash the newest row
-- per file is where reading resumes, and every row whose token is not in ingest_batches yet is
-- inserted again with the same token from the same bytes: the engine drops a block it already has.
CREATE TABLE IF NOT EXISTS follow_batches
(
    file_key        String,
    path            String,
    dev             UInt64,
    ino             UInt64,
    head            String,
    start_offset    UInt64,
    end_offset      UInt64,
    first_line      UInt64,
    next_line       UInt64,
    last_line_hash  String,
    token           String,
    written_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (file_key, start_offset);
