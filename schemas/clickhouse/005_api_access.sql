-- Incident API access: hashed API tokens with roles, and the audit log of who looked up which IP or
-- exported which evidence. Only the SHA-256 of a token is stored; the token itself is shown once.
CREATE TABLE IF NOT EXISTS api_tokens
(
    id            String,
    version       UInt64,                   -- revoking writes a newer version of the same id
    name          String,
    role          LowCardinality(String),   -- viewer | analyst | admin
    token_sha256  String,                   -- hex SHA-256 of the token (never the token)
    created_at    DateTime64(3, 'UTC'),
    created_by    String,
    revoked       UInt8 DEFAULT 0,
    revoked_at    Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- One row per audited request: every IP/CIDR lookup, timeline, exposure, report, evidence export,
-- alert action and admin change, by the API or the CLI. Append-only.
CREATE TABLE IF NOT EXISTS audit_log
(
    at           DateTime64(3, 'UTC'),
    actor        String,                    -- token name (id) or 'cli:<user>'
    role         LowCardinality(String),
    action       LowCardinality(String),    -- e.g. timeline, search, export, alert.ack, token.create
    target_type  LowCardinality(String),    -- ip | cidr | user_agent | image | alert | report | token | rule | none
    target       String,
    params       String,                    -- JSON of the validated request parameters
    status       UInt16                     -- HTTP status sent (CLI: 200 on success)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, actor);
