-- `tilewatch ingest` (services/ingest/kafka/): exactly-once state of Kafka batches, kept in the store the
-- rows go to. A batch (a "unit") covers one offset range per partition and is inserted with one
-- deduplication token made of the Kafka cluster id, the topic and those ranges.
--
-- kafka_units: one row per partition range of a unit, written BEFORE the unit's inserts (an intent).
-- kafka_offsets: one row per partition of a unit, written AFTER its inserts; the highest `last_offset`
-- per partition is where the partition's stored data ends.
-- A unit with a range above its partition's stored end was cut but not confirmed (its owner crashed,
-- was fenced out of the group, or is still inserting): whoever is assigned one of its partitions reads
-- exactly those ranges from Kafka again and inserts them with the same token, so the engine keeps each
-- block once whichever insert lands first (services/ingest/kafka/unitRepair.ts).
CREATE TABLE IF NOT EXISTS kafka_units
(
    stream        String,
    token         String,
    partition     Int32,
    first_offset  Int64,
    last_offset   Int64,
    rows          UInt32,
    member        String,
    written_at    DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (stream, partition, last_offset)
TTL toDateTime(written_at) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS kafka_offsets
(
    stream        String,
    partition     Int32,
    last_offset   Int64,
    token         String,
    -- Newest event time (ms) stored in the partition up to last_offset (0: none): where a new owner's
    -- commit metadata (the hunts' watermark) starts, so it never goes back after a restart.
    event_ts      Int64 DEFAULT 0,
    stored_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(last_offset)
ORDER BY (stream, partition);
