/**
 * Pure formatting of incident notices for the sinks: webhook signatures, body and idempotency key,
 * the notice summary and Slack body, Alertmanager labels/annotations/times (one alert per incident),
 * Kafka messages keyed by incident, HTTP status classes.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { alertSummary, incidentHeadline, noticeSummary, slackMessage } from '../../../services/alerting/alertText.ts';
import { incidentPageUrl, toAlertmanagerAlerts } from '../../../services/alerting/alertmanagerPayload.ts';
import { classifyStatus } from '../../../services/alerting/httpPost.ts';
import { noticeOf } from '../../../services/alerting/incidentNotice.ts';
import { alertMessage } from '../../../services/alerting/kafkaSink.ts';
import { webhookBody, webhookIdempotencyKey } from '../../../services/alerting/webhookSink.ts';
import { signWebhook, verifyWebhookSignature } from '../../../services/alerting/webhookSignature.ts';
import type { Alert, AlertIncident } from '../../../services/core/alert.ts';
import { makeAlert } from '../../support/alerts.ts';

const NOW = Date.parse('2026-01-05T12:00:00Z');

describe('webhook signature', () => {
  const body = webhookBody(makeAlert(), 'json');
  const headers = signWebhook('s3cret', body, NOW);

  test('is HMAC-SHA256(secret, timestamp + "." + body) in hex, with the timestamp in seconds', () => {
    assert.equal(headers['X-Tilewatch-Timestamp'], String(NOW / 1000));
    const expected = createHmac('sha256', 's3cret').update(`${NOW / 1000}.${body}`).digest('hex');
    assert.equal(headers['X-Tilewatch-Signature'], `v1=${expected}`);
  });

  test('verifies, and rejects stale, tampered, wrongly keyed or unsigned requests', () => {
    assert.deepEqual(verifyWebhookSignature('s3cret', headers, body, NOW + 299_000, 300), { ok: true, timestamp: NOW / 1000 });
    assert.deepEqual(verifyWebhookSignature('s3cret', headers, body, NOW + 301_000, 300), { ok: false, reason: 'stale-timestamp' });
    assert.deepEqual(verifyWebhookSignature('s3cret', headers, body, NOW - 301_000, 300), { ok: false, reason: 'stale-timestamp' });
    assert.deepEqual(verifyWebhookSignature('s3cret', headers, `${body} `, NOW, 300), { ok: false, reason: 'bad-signature' });
    assert.deepEqual(verifyWebhookSignature('other', headers, body, NOW, 300), { ok: false, reason: 'bad-signature' });
    assert.deepEqual(verifyWebhookSignature('s3cret', { 'X-Tilewatch-Timestamp': headers['X-Tilewatch-Timestamp'] }, body, NOW), { ok: false, reason: 'missing-signature' });
    assert.deepEqual(verifyWebhookSignature('s3cret', {}, body, NOW), { ok: false, reason: 'missing-timestamp' });
    // A replayed signature with a fresh timestamp does not verify: the timestamp is signed.
    const replayed = { ...headers, 'X-Tilewatch-Timestamp': String(NOW / 1000 + 600) };
    assert.deepEqual(verifyWebhookSignature('s3cret', replayed, body, NOW + 600_000), { ok: false, reason: 'bad-signature' });
  });

  test('accepts fetch Headers, lower-case node headers, and a list of signatures (secret rotation)', () => {
    assert.equal(verifyWebhookSignature('s3cret', new Headers(headers), Buffer.from(body), NOW).ok, true);
    const lower = { 'x-tilewatch-timestamp': headers['X-Tilewatch-Timestamp'], 'x-tilewatch-signature': `v1=${'0'.repeat(64)}, ${headers['X-Tilewatch-Signature']}` };
    assert.equal(verifyWebhookSignature('s3cret', lower, body, NOW).ok, true);
  });
});

const INC = 'ti-0123456789abcdef0123';
/** The version as the correlator hands it to the sinks: with its incident and notice. */
const noticed = (a: Alert, incident: Partial<AlertIncident> = {}): Alert => ({
  ...a,
  incident: { id: INC, severity: a.severity, status: a.status, alerts: 1, notice: a.status === 'resolved' ? 'resolved' : 'opened', ...incident },
});

describe('alert and notice text', () => {
  test('one-line alert summary names severity, kind, client, the top image and the id', () => {
    const a = makeAlert({ version: 3, client: { ips: ['203.0.113.7', '203.0.113.8', '203.0.113.9'] } });
    assert.equal(
      alertSummary(a),
      'HIGH bulk-harvest by 203.0.113.7 (+2 more IPs): rijks-SK-C-5: 96 % at full resolution (14000 px), 1204 requests (+1 more images); score 87 [tw-0123456789abcdef0123 v3]',
    );
    assert.match(alertSummary(makeAlert({ status: 'resolved', resolvedAt: '2026-01-05T12:00:00Z' })), /^RESOLVED bulk-harvest by 203\.0\.113\.7/);
  });

  test('a notice says "incident ti-… opened/escalated/resolved (severity)", its size, then the alert behind it', () => {
    const a = makeAlert({ version: 2, severity: 'critical', score: 97 });
    assert.equal(incidentHeadline(noticed(a, { notice: 'escalated', alerts: 3 })), `incident ${INC} escalated (critical)`);
    assert.equal(
      noticeSummary(noticed(a, { notice: 'escalated', alerts: 3 })),
      `incident ${INC} escalated (critical), 3 alerts: CRITICAL bulk-harvest by 203.0.113.7: rijks-SK-C-5: 96 % at full resolution (14000 px), 1204 requests (+1 more images); score 97 [tw-0123456789abcdef0123 v2]`,
    );
    assert.match(noticeSummary(noticed(makeAlert({ severity: 'medium' }))), new RegExp(`^incident ${INC} opened \\(medium\\), 1 alert: MEDIUM bulk-harvest`));
    // The incident's severity, not the alert's: a medium member resolving a critical incident.
    const last = makeAlert({ id: 'tw-ffffffffffffffffffff', version: 4, severity: 'medium', status: 'resolved', resolvedAt: '2026-01-05T12:00:00Z' });
    assert.match(noticeSummary(noticed(last, { severity: 'critical', alerts: 2 })), new RegExp(`^incident ${INC} resolved \\(critical\\), 2 alerts: RESOLVED bulk-harvest .*\\[tw-ffffffffffffffffffff v4\\]$`));
  });

  test('a version without an incident speaks as an incident of its own (the id the correlator would give it)', () => {
    const a = makeAlert({ id: 'tw-aaaaaaaaaaaaaaaaaaaa' });
    assert.deepEqual(noticeOf(a), { id: 'ti-aaaaaaaaaaaaaaaaaaaa', severity: 'high', status: 'open', alerts: 1, notice: 'opened' });
    assert.equal(incidentHeadline(makeAlert({ id: 'tw-aaaaaaaaaaaaaaaaaaaa', version: 3, status: 'resolved' })), 'incident ti-aaaaaaaaaaaaaaaaaaaa resolved (high)');
  });

  test('Slack body is { text }: the notice summary and the reasons, control characters escaped', () => {
    const a = noticed(makeAlert({ reasons: [{ signal: 'context', value: 1, threshold: 1, text: 'UA <script>&' }] }));
    const body = JSON.parse(webhookBody(a, 'slack')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['text']);
    assert.equal(body.text, slackMessage(a).text);
    assert.match(String(body.text), new RegExp(`^incident ${INC} opened \\(high\\), 1 alert: HIGH bulk-harvest`));
    assert.match(String(body.text), /\n- UA &lt;script&gt;&amp;$/);
  });
});

describe('webhook payload', () => {
  test('the JSON body is the version with its incident; a version without one gets its own', () => {
    const a = noticed(makeAlert({ version: 3 }), { notice: 'escalated', alerts: 2, severity: 'critical' });
    assert.deepEqual(JSON.parse(webhookBody(a, 'json')), a);
    const bare = makeAlert();
    assert.deepEqual(JSON.parse(webhookBody(bare, 'json')), { ...bare, incident: { id: INC, severity: 'high', status: 'open', alerts: 1, notice: 'opened' } });
  });

  test('the idempotency key names the incident, the notice and the alert version', () => {
    const v = makeAlert({ id: 'tw-bbbbbbbbbbbbbbbbbbbb', version: 5 });
    assert.equal(webhookIdempotencyKey(noticed(v, { notice: 'escalated' })), `${INC}:escalated:tw-bbbbbbbbbbbbbbbbbbbb:5`);
    assert.equal(webhookIdempotencyKey(noticed(v, { notice: 'opened' })), `${INC}:opened:tw-bbbbbbbbbbbbbbbbbbbb:5`);
    assert.equal(webhookIdempotencyKey(v), 'ti-bbbbbbbbbbbbbbbbbbbb:opened:tw-bbbbbbbbbbbbbbbbbbbb:5');
  });
});

describe('Alertmanager payload', () => {
  test('opened: one alert per incident, labels that identify it, the alert behind the notice in annotations, generatorURL on the web page', () => {
    const a = noticed(makeAlert(), { severity: 'medium', alerts: 2 });
    const [am, ...rest] = toAlertmanagerAlerts(a, { now: NOW, openTtlMs: 3_600_000, webUrl: 'https://tw.example/console', extraLabels: { env: 'prod', severity: 'spoofed' } });
    assert.equal(rest.length, 0);
    assert.deepEqual(am!.labels, { env: 'prod', alertname: 'TilewatchIncident', service: 'tilewatch', incident_id: INC, severity: 'medium' });
    assert.equal(am!.startsAt, '2026-01-05T10:14:00.000Z');
    assert.equal(am!.endsAt, '2026-01-05T13:00:00.000Z');
    assert.equal(am!.generatorURL, `https://tw.example/console/?incident=${INC}`);
    assert.equal(am!.annotations.summary, noticeSummary(a));
    assert.match(am!.annotations.summary!, new RegExp(`^incident ${INC} opened \\(medium\\), 2 alerts: HIGH bulk-harvest`));
    assert.equal(am!.annotations.description, '- covered 96 % of image rijks-SK-C-5 at full resolution in 14 min\n- 1 tile / 1.02 s ± 0.03 s');
    assert.match(am!.annotations.images!, /^rijks-SK-C-5: 96 %.*\nrijks-SK-A-2344: 50 % at scale 0\.5/);
    assert.deepEqual(
      [am!.annotations.notice, am!.annotations.alerts, am!.annotations.kind, am!.annotations.alert_id, am!.annotations.alert_version, am!.annotations.client, am!.annotations.subnet, am!.annotations.user_agent],
      ['opened', '2', 'bulk-harvest', 'tw-0123456789abcdef0123', '1', '203.0.113.7', '203.0.113.0/24', 'python-requests/2.31'],
    );
  });

  test('the label set depends on the incident and its severity only: notices caused by other alerts and kinds update the same alert', () => {
    const one = toAlertmanagerAlerts(noticed(makeAlert()), { now: NOW, previousSeverity: 'high' });
    const other = toAlertmanagerAlerts(noticed(makeAlert({ id: 'tw-cccccccccccccccccccc', kind: 'campaign', version: 7, client: { ip: '198.51.100.1', subnet: '198.51.100.0/24' } }), { notice: 'escalated' }), {
      now: NOW,
      previousSeverity: 'high',
    });
    assert.deepEqual(one.map((a) => a.labels), other.map((a) => a.labels));
    assert.equal(one.length, 1);
  });

  test('resolved: endsAt = resolvedAt, under the severity the incident was paged at', () => {
    const r = noticed(makeAlert({ version: 4, severity: 'medium', status: 'resolved', resolvedAt: '2026-01-05T11:30:00.000Z' }), { severity: 'critical' });
    const all = toAlertmanagerAlerts(r, { now: NOW, previousSeverity: 'high' });
    assert.deepEqual(all.map((a) => [a.labels.severity, a.endsAt, a.annotations.notice]), [['high', '2026-01-05T11:30:00.000Z', 'resolved']]);
    assert.equal(all[0]!.generatorURL, undefined);
    // Not remembered (a restart): the incident's severity and every lower one end at resolvedAt.
    assert.deepEqual(
      toAlertmanagerAlerts(r, { now: NOW }).map((a) => [a.labels.severity, a.endsAt]),
      ['critical', 'low', 'medium', 'high'].map((s) => [s, '2026-01-05T11:30:00.000Z']),
    );
  });

  test('an escalation ends the incident under the previous severity; unknown previous ends the lower ones; an opening ends nothing', () => {
    const v3 = noticed(makeAlert({ version: 3, severity: 'critical' }), { notice: 'escalated' });
    const ends = (previousSeverity?: 'medium' | 'critical') =>
      toAlertmanagerAlerts(v3, { now: NOW, ...(previousSeverity ? { previousSeverity } : {}) }).map((a) => [a.labels.severity, a.endsAt, a.labels.incident_id]);
    const open = ['critical', '2026-01-12T12:00:00.000Z', INC];
    assert.deepEqual(ends('critical'), [open]);
    assert.deepEqual(ends('medium'), [open, ['medium', '2026-01-05T11:59:00.000Z', INC]]);
    assert.deepEqual(ends(), [open, ['low', '2026-01-05T11:59:00.000Z', INC], ['medium', '2026-01-05T11:59:00.000Z', INC], ['high', '2026-01-05T11:59:00.000Z', INC]]);
    assert.equal(toAlertmanagerAlerts(noticed(makeAlert({ version: 9, severity: 'critical' })), { now: NOW }).length, 1, 'an opening has nothing to end');
  });

  test('endsAt never precedes startsAt (Alertmanager would reject the post)', () => {
    const future = noticed(makeAlert({ version: 2, detectedAt: '2026-01-06T00:00:00.000Z', status: 'resolved', resolvedAt: '2026-01-05T00:00:00.000Z' }));
    for (const a of toAlertmanagerAlerts(future, { now: NOW })) assert.ok(Date.parse(a.endsAt) >= Date.parse(a.startsAt), JSON.stringify(a));
  });

  test('generatorURL: the web page with ?incident=<id>, other parameters kept', () => {
    assert.equal(incidentPageUrl('https://tw.example', INC), `https://tw.example/?incident=${INC}`);
    assert.equal(incidentPageUrl('https://tw.example/ui/?lang=nl', INC), `https://tw.example/ui/?lang=nl&incident=${INC}`);
  });
});

describe('Kafka alert message', () => {
  test('keyed by incident id, value the version with its incident, headers for the incident, the alert and its idempotency key (as the webhook\'s)', () => {
    const a = noticed(makeAlert({ version: 2 }), { notice: 'escalated', severity: 'critical', alerts: 3 });
    const m = alertMessage(a);
    assert.equal(m.key, INC);
    assert.deepEqual(JSON.parse(String(m.value)), a);
    assert.deepEqual(m.headers, {
      incident: INC,
      'incident-severity': 'critical',
      'incident-status': 'open',
      notice: 'escalated',
      alerts: '3',
      alert: 'tw-0123456789abcdef0123',
      kind: 'bulk-harvest',
      severity: 'high',
      version: '2',
      status: 'open',
      'idempotency-key': `${INC}:escalated:tw-0123456789abcdef0123:2`,
      'content-type': 'application/json',
    });
  });
});

describe('HTTP status classes', () => {
  test('2xx ok; 5xx, 408, 429 retried; other 4xx permanent', () => {
    assert.deepEqual(
      [200, 202, 204, 301, 400, 401, 404, 408, 409, 413, 422, 429, 500, 502, 503].map((s) => [s, classifyStatus(s)]),
      [
        [200, 'ok'],
        [202, 'ok'],
        [204, 'ok'],
        [301, 'permanent'],
        [400, 'permanent'],
        [401, 'permanent'],
        [404, 'permanent'],
        [408, 'retry'],
        [409, 'permanent'],
        [413, 'permanent'],
        [422, 'permanent'],
        [429, 'retry'],
        [500, 'retry'],
        [502, 'retry'],
        [503, 'retry'],
      ],
    );
  });
});
