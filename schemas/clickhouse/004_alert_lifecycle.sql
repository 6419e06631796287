-- Alert lifecycle beyond the detector. The detector owns `alerts` versions (open → updated →
-- resolved after inactivity); what analysts do is kept apart so neither side races the other's
-- version numbers. An alert's effective status is its newest action if any is newer than the alert
-- version it refers to, otherwise the detector's status.
CREATE TABLE IF NOT EXISTS alert_actions
(
    alert_id    String,
    at          DateTime64(3, 'UTC'),
    action      LowCardinality(String),   -- acknowledge | mute | resolve | reopen
    actor       String,                   -- API token name or 'cli:<user>'
    note        String,
    mute_until  Nullable(DateTime64(3, 'UTC'))
)
ENGINE = MergeTree
ORDER BY (alert_id, at);

-- Allow-lists and mute rules managed at run time (config-file allow-lists are merged in memory).
-- type = 'allow': matching clients never alert; type = 'mute': matching alerts are stored but not sent
-- to sinks until expires_at. A rule matches when every non-empty field matches.
CREATE TABLE IF NOT EXISTS suppression_rules
(
    id          String,
    version     UInt64,
    type        LowCardinality(String),   -- allow | mute
    cidr        String,                   -- '' = any client
    user_agent  String,                   -- RE2 regular expression, '' = any
    alert_kind  LowCardinality(String),   -- '' = any kind
    image_id    String,                   -- '' = any image
    note        String,
    created_by  String,
    created_at  DateTime64(3, 'UTC'),
    expires_at  Nullable(DateTime64(3, 'UTC')),
    deleted     UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- Hunts run over event-time windows; this ledger makes them resumable and idempotent.
CREATE TABLE IF NOT EXISTS hunt_runs
(
    hunt          LowCardinality(String),
    window_start  DateTime64(3, 'UTC'),
    window_end    DateTime64(3, 'UTC'),
    ran_at        DateTime64(3, 'UTC'),
    alerts        UInt32,
    duration_ms   UInt32
)
ENGINE = ReplacingMergeTree(ran_at)
ORDER BY (hunt, window_end);
