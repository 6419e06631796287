-- Incidents: alert versions correlated into one incident per actor (services/core/incidents/). The
-- incident travels in each version's body; these columns expose it for listing and triage without
-- parsing JSON. Versions stored before incidents existed read as their own incident ('' → the API
-- shows the alert alone).
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS incident_id String DEFAULT JSONExtractString(body, 'incident', 'id');
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS incident_severity LowCardinality(String) DEFAULT JSONExtractString(body, 'incident', 'severity');
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS incident_status LowCardinality(String) DEFAULT JSONExtractString(body, 'incident', 'status');
