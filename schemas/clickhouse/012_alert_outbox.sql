-- Alert outbox (services/alerting/outbox.ts): the alert versions the sinks must see, written by the
-- same INSERT INTO alerts that stores them (the materialized view below), and where each sink stands.
-- `alerts` keeps only the newest version of an id once merged, so the versions to deliver are copied
-- here; a version reaches a sink only from this table, hence only after `alerts` holds it.
--
-- On alerts: the writing process (outbox_origin), its position in that process's sequence
-- (outbox_seq, 1, 2, 3, … without gaps) and what the version is for the sinks: 0 nothing (stored only:
-- no sink configured, muted, a re-emission of stored history, an update that pages nobody while no
-- sink follows every version), 1 an incident notice (every sink), 2 an update between notices (only
-- the sinks that follow every version: the block list).
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS outbox_origin String DEFAULT '';
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS outbox_seq UInt64 DEFAULT 0;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS outbox UInt8 DEFAULT 0;

-- One row per version to deliver, keyed by (origin, seq): an insert repeated after a failure collapses
-- to one row. Kept 30 days of wall time: a sink behind by more than that finds a gap, which is logged
-- and counted (tilewatch_sink_dropped_total{reason="expired"}), never skipped silently.
CREATE TABLE IF NOT EXISTS alert_outbox
(
    origin      String,
    seq         UInt64,
    id          String,
    version     UInt32,
    kind        UInt8,
    body        String CODEC(ZSTD(3)),
    written_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (origin, seq)
TTL toDateTime(written_at) + INTERVAL 30 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS alert_outbox_mv TO alert_outbox AS
SELECT outbox_origin AS origin, outbox_seq AS seq, id, version, outbox AS kind, body, now64(3) AS written_at
FROM alerts
WHERE outbox > 0;

-- Where each sink of each origin stands: the last outbox position it has passed (delivered, or
-- refused for good and counted). The newest (highest) position wins, so a late save never moves a
-- sink back.
CREATE TABLE IF NOT EXISTS sink_cursors
(
    origin      String,
    sink        String,
    seq         UInt64,
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (origin, sink);
