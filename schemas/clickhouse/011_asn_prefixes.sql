-- Network context in SQL (docs/network-context.md): the IP-to-ASN data as CIDR prefixes, written by
-- services/network/asnStore.ts when the data (or the hosting list) changes — the migration only makes
-- the tables and the dictionary. IPv4 prefixes are IPv4-mapped (::ffff:a.b.c.d/(96 + n)) like the
-- client columns. Lookups: dictGetOrDefault('asn_lookup', 'asn', client, toUInt32(0)). hosting_asn
-- is the ASN when the network is a hosting / cloud provider, else 0 (the campaign hunt's `asn:` groups).
CREATE TABLE IF NOT EXISTS asn_prefixes
(
    prefix       String,
    asn          UInt32,
    org          String,
    hosting      UInt8,
    hosting_asn  UInt32,
    provider     String
)
ENGINE = MergeTree
ORDER BY prefix;

-- Which data asn_prefixes holds (one row, id 1): its version (the package version or the file's
-- name and time, with a digest of the hosting list), source, licence and attribution.
CREATE TABLE IF NOT EXISTS asn_data
(
    id           UInt8,
    version      String,
    source       String,
    licence      String,
    attribution  String,
    ranges       UInt64,
    prefixes     UInt64,
    loaded_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY id;

-- The lookup SQL uses (layout ip_trie over asn_prefixes; reloaded by asnStore.ts after it writes the
-- table). Its source names no database: the dictionary's own is used.
CREATE DICTIONARY IF NOT EXISTS asn_lookup
(
    prefix       String,
    asn          UInt32,
    org          String,
    hosting      UInt8,
    hosting_asn  UInt32,
    provider     String
)
PRIMARY KEY prefix
SOURCE(CLICKHOUSE(TABLE 'asn_prefixes'))
LAYOUT(IP_TRIE)
LIFETIME(0);
