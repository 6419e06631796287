-- Image catalogue (from --catalog) and learned extents; newest row per image wins.
CREATE TABLE IF NOT EXISTS images
(
    protocol             LowCardinality(String),
    image_id             String,
    width                UInt32,
    height               UInt32,
    tile_size            UInt32,
    overlap              UInt16,
    max_level            Int16,
    open_data_long_edge  UInt32,
    source               LowCardinality(String),
    updated_at           DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (protocol, image_id);

-- Alerts: one row per alert version; ReplacingMergeTree keeps the newest version of each id.
CREATE TABLE IF NOT EXISTS alerts
(
    id           String,
    version      UInt32,
    kind         LowCardinality(String),
    severity     LowCardinality(String),
    score        Float32,
    client       IPv6,
    client_ips   Array(String),
    user_agent   String,
    subnet       String,
    first_seen   DateTime64(3, 'UTC'),
    detected_at  DateTime64(3, 'UTC'),
    last_seen    DateTime64(3, 'UTC'),
    image_ids    Array(String),
    reasons      String,
    body         String CODEC(ZSTD(3)),
    status       LowCardinality(String) DEFAULT 'open'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- Input that could not be parsed, with its reason and lineage. Nothing is silently dropped.
CREATE TABLE IF NOT EXISTS dead_letters
(
    received_at  DateTime64(3, 'UTC'),
    source       String,
    partition    Int32,
    line         UInt64,
    reason       LowCardinality(String),
    raw          String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (source, partition, line)
SETTINGS non_replicated_deduplication_window = 10000;

-- Ledger of stored batches (source identity = SHA-256 of the source's first line, line range): a replay skips what is already stored; the
-- insert deduplication token covers a crash between the data insert and this row.
CREATE TABLE IF NOT EXISTS ingest_batches
(
    token        String,
    source       String,
    file         String,
    partition    Int32,
    first_line   UInt64,
    last_line    UInt64,
    rows         UInt32,
    dead_letters UInt32,
    stored_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY token;
