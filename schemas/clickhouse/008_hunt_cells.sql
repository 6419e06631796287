-- What the hunts need of every image request, summarised per 10-minute bucket of event time
-- and ordered by that bucket, so that a hunt window reads only the buckets that entered or left its
-- look-back (services/hunts/campaignCells.ts) instead of re-reading the look-back of every active
-- image from tile_requests (ordered by client: a time range there scans the whole month).
--
-- One row per (bucket, image, band, pyramid level, client, user agent, rectangle) with the number of
-- requests and the first and last request time: everything the hunts read of a request except its
-- referer and exact time (low-and-slow's gaps and referer share still read tile_requests, by client).
-- `hunted` = 1 for the requests the hunts examine (tile, region or full, scale > 0, status < 400);
-- the others (info.json, errors) only say that the image was active in the bucket. The band is the
-- hunts' band, computed with their expression (services/hunts/huntQueries.ts). Rows deduplicate with
-- the same insert tokens as the other aggregates.
--
-- Retention: partitions are days of event time; the hunt runner drops the days no look-back reaches
-- any more and records the horizon (009_hunt_cells_retention.sql).
CREATE TABLE IF NOT EXISTS hunt_cells
(
    bucket      DateTime('UTC'),
    hunted      UInt8,
    image_id    String,
    band        Int8,
    level       Int16,
    client      IPv6,
    user_agent  LowCardinality(String),
    rect_x      UInt32,
    rect_y      UInt32,
    rect_w      UInt32,
    rect_h      UInt32,
    requests    SimpleAggregateFunction(sum, UInt64),
    first_ts    SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_ts     SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(bucket)
ORDER BY (bucket, hunted, image_id, band, level, client, user_agent, rect_x, rect_y, rect_w, rect_h)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS hunt_cells_mv TO hunt_cells AS
SELECT toStartOfInterval(ts, INTERVAL 10 MINUTE) AS bucket,
       toUInt8(kind IN ('tile', 'region', 'full') AND scale > 0 AND status < 400) AS hunted,
       image_id, toInt8(round(-log2(greatest(scale, 1e-6)))) AS band, level, client, user_agent,
       rect_x, rect_y, rect_w, rect_h, toUInt64(count()) AS requests, min(ts) AS first_ts, max(ts) AS last_ts
FROM tile_requests
WHERE image_id != ''
GROUP BY bucket, hunted, image_id, band, level, client, user_agent, rect_x, rect_y, rect_w, rect_h;

-- Requests stored before this migration (run migrations with ingest stopped, as every command does).
INSERT INTO hunt_cells
SELECT toStartOfInterval(ts, INTERVAL 10 MINUTE) AS bucket,
       toUInt8(kind IN ('tile', 'region', 'full') AND scale > 0 AND status < 400) AS hunted,
       image_id, toInt8(round(-log2(greatest(scale, 1e-6)))) AS band, level, client, user_agent,
       rect_x, rect_y, rect_w, rect_h, toUInt64(count()) AS requests, min(ts) AS first_ts, max(ts) AS last_ts
FROM tile_requests
WHERE image_id != ''
GROUP BY bucket, hunted, image_id, band, level, client, user_agent, rect_x, rect_y, rect_w, rect_h;
