-- Retention of hunt_cells (008) in event time. The hunt runner drops the day partitions of hunt_cells
-- that lie wholly before the longest hunt look-back (plus a day) of the newest window it has run, and
-- records here from when on hunt_cells is complete: windows reaching further back read tile_requests
-- instead (services/hunts/huntQueries.ts), so a backfill of an old period stays exact. Event time, not
-- a TTL: a TTL counts from the wall clock and would empty hunt_cells during a replay of old archives.
CREATE TABLE IF NOT EXISTS hunt_cells_retained
(
    since       DateTime('UTC'),
    dropped_at  DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY since;
