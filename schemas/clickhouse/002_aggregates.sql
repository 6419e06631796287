-- Aggregates kept current by materialized views (as RITA does for beacons). Each target table keeps
-- a deduplication window so that a batch re-inserted with the same token (a replay, or recovery after
-- a crash between insert and ledger) is not counted twice.

-- Traffic per minute by protocol, kind and status: dashboards and volume baselines.
CREATE TABLE IF NOT EXISTS traffic_minute
(
    minute    DateTime('UTC'),
    protocol  LowCardinality(String),
    kind      LowCardinality(String),
    status    UInt16,
    requests  UInt64,
    bytes     UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, protocol, kind, status)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS traffic_minute_mv TO traffic_minute AS
SELECT toStartOfMinute(ts) AS minute, protocol, kind, status, count() AS requests, sum(bytes) AS bytes
FROM tile_requests
GROUP BY minute, protocol, kind, status;

-- Per client per minute: volume over several time scales.
CREATE TABLE IF NOT EXISTS client_minute
(
    client    IPv6,
    minute    DateTime('UTC'),
    requests  UInt64,
    tiles     UInt64,
    bytes     UInt64,
    errors    UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (client, minute)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS client_minute_mv TO client_minute AS
SELECT client, toStartOfMinute(ts) AS minute,
       count() AS requests,
       countIf(kind IN ('tile', 'region', 'full')) AS tiles,
       sum(bytes) AS bytes,
       countIf(status >= 400) AS errors
FROM tile_requests
GROUP BY client, minute;

-- Per (client, image) per hour: tiles, distinct cells, time span, deepest scale. Hunts and exposure.
CREATE TABLE IF NOT EXISTS client_image_hour
(
    client     IPv6,
    image_id   String,
    hour       DateTime('UTC'),
    protocol   SimpleAggregateFunction(any, LowCardinality(String)),
    tiles      SimpleAggregateFunction(sum, UInt64),
    cells      AggregateFunction(uniqExact, Int16, Int32, Int32),
    first_ts   SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_ts    SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    max_scale  SimpleAggregateFunction(max, Float32),
    max_level  SimpleAggregateFunction(max, Int16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (client, image_id, hour)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS client_image_hour_mv TO client_image_hour AS
SELECT client, image_id, toStartOfHour(ts) AS hour,
       any(protocol) AS protocol,
       toUInt64(count()) AS tiles,
       uniqExactState(level, tile_x, tile_y) AS cells,
       min(ts) AS first_ts, max(ts) AS last_ts,
       max(scale) AS max_scale, max(level) AS max_level
FROM tile_requests
WHERE kind IN ('tile', 'region', 'full') AND status < 400 AND image_id != ''
GROUP BY client, image_id, hour;
