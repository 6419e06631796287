-- Image-first reads (incident API: image exposure, incident report, coverage maps). tile_requests is
-- ordered by (client, ts) for detection and client timelines, so a question about one image had to
-- scan it: with every image spread over every granule, the bloom index on image_id skips nothing
-- (10 M requests: 2.8 s for one image's exposure, 10.6 s for a 5-image report).
--
-- image_requests is a narrow copy of the image requests ordered by (image_id, ts): only the columns
-- those questions read (no path, referer or user agent), each with a codec chosen for that order.
-- A projection of tile_requests was tried first and measured: the same read speed and insert cost,
-- but projection parts ignore column codecs (ClickHouse writes them with the table's default), so it
-- took 9.3 B/row where this table takes ~3 (`npm run bench` prints both tables' bytes per row).
-- A materialized view fills it on every insert into tile_requests; it deduplicates with the same
-- insert tokens as the aggregates (a re-inserted batch is stored once).
CREATE TABLE IF NOT EXISTS image_requests
(
    image_id   String CODEC(ZSTD(3)),
    ts         DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    client     IPv6 CODEC(ZSTD(1)),
    kind       LowCardinality(String),
    status     UInt16 CODEC(ZSTD(1)),
    scale      Float32 CODEC(ZSTD(1)),
    rect_x     UInt32 CODEC(T64, ZSTD(1)),
    rect_y     UInt32 CODEC(T64, ZSTD(1)),
    rect_w     UInt32 CODEC(T64, ZSTD(1)),
    rect_h     UInt32 CODEC(T64, ZSTD(1)),
    source     LowCardinality(String),
    partition  Int32 CODEC(ZSTD(1)),
    line       UInt64 CODEC(Delta, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (image_id, ts)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS image_requests_mv TO image_requests AS
SELECT image_id, ts, client, kind, status, scale, rect_x, rect_y, rect_w, rect_h, source, partition, line
FROM tile_requests
WHERE image_id != '';

-- Requests stored before this migration. Run migrations with ingest stopped (as `tilewatch migrate`
-- and every command do before they ingest): a row stored between the view and this copy would be
-- copied twice.
INSERT INTO image_requests
SELECT image_id, ts, client, kind, status, scale, rect_x, rect_y, rect_w, rect_h, source, partition, line
FROM tile_requests
WHERE image_id != '';
