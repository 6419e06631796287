/**
 * Pure formatting of alert versions for the sinks: webhook signatures, the one-line summary and
 * Slack body, Alertmanager labels/annotations/times, Kafka messages, HTTP status classes.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { alertSummary, slackMessage } from '../../../services/alerting/alertText.ts';
import { toAlertmanagerAlerts } from '../../../services/alerting/alertmanagerPayload.ts';
import { classifyStatus } from '../../../services/alerting/httpPost.ts';
import { alertMessage } from '../../../services/alerting/kafkaSink.ts';
import { webhookBody } from '../../../services/alerting/webhookSink.ts';
import { signWebhook, verifyWebhookSignature } from '../../../services/alerting/webhookSignature.ts';
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

describe('alert text', () => {
  test('one-line summary names severity, kind, client, the top image and the id', () => {
    const a = makeAlert({ version: 3, client: { ips: ['203.0.113.7', '203.0.113.8', '203.0.113.9'] } });
    assert.equal(
      alertSummary(a),
      'HIGH bulk-harvest by 203.0.113.7 (+2 more IPs): rijks-SK-C-5: 96 % at full resolution (14000 px), 1204 requests (+1 more images); score 87 [tw-0123456789abcdef0123 v3]',
    );
    assert.match(alertSummary(makeAlert({ status: 'resolved', resolvedAt: '2026-01-05T12:00:00Z' })), /^RESOLVED bulk-harvest by 203\.0\.113\.7/);
  });

  test('Slack body is { text } with the reasons, control characters escaped', () => {
    const a = makeAlert({ reasons: [{ signal: 'context', value: 1, threshold: 1, text: 'UA <script>&' }] });
    const body = JSON.parse(webhookBody(a, 'slack')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['text']);
    assert.equal(body.text, slackMessage(a).text);
    assert.match(String(body.text), /\n- UA &lt;script&gt;&amp;$/);
  });

  test('the JSON webhook body is the alert version itself', () => {
    const a = makeAlert();
    assert.deepEqual(JSON.parse(webhookBody(a, 'json')), a);
  });
});

describe('Alertmanager payload', () => {
  test('open: labels that group, annotations, startsAt = detectedAt, endsAt = now + TTL, generatorURL', () => {
    const [am, ...rest] = toAlertmanagerAlerts(makeAlert(), { now: NOW, openTtlMs: 3_600_000, apiBaseUrl: 'https://tw.example/api/', extraLabels: { env: 'prod', kind: 'spoofed' } });
    assert.equal(rest.length, 0);
    assert.deepEqual(am!.labels, {
      env: 'prod',
      alertname: 'TileHarvesting',
      service: 'tilewatch',
      kind: 'bulk-harvest',
      severity: 'high',
      subnet: '203.0.113.0/24',
      client: '203.0.113.7',
      alert_id: 'tw-0123456789abcdef0123',
    });
    assert.equal(am!.startsAt, '2026-01-05T10:14:00.000Z');
    assert.equal(am!.endsAt, '2026-01-05T13:00:00.000Z');
    assert.equal(am!.generatorURL, 'https://tw.example/api/alerts/tw-0123456789abcdef0123');
    assert.match(am!.annotations.summary!, /^HIGH bulk-harvest/);
    assert.equal(am!.annotations.description, '- covered 96 % of image rijks-SK-C-5 at full resolution in 14 min\n- 1 tile / 1.02 s ± 0.03 s');
    assert.match(am!.annotations.images!, /^rijks-SK-C-5: 96 %.*\nrijks-SK-A-2344: 50 % at scale 0\.5/);
    assert.equal(am!.annotations.user_agent, 'python-requests/2.31');
  });

  test('resolved: endsAt = resolvedAt', () => {
    const all = toAlertmanagerAlerts(makeAlert({ version: 4, status: 'resolved', resolvedAt: '2026-01-05T11:30:00.000Z' }), { now: NOW, previousSeverity: 'high' });
    assert.equal(all.length, 1);
    assert.equal(all[0]!.endsAt, '2026-01-05T11:30:00.000Z');
    assert.equal(all[0]!.generatorURL, undefined);
  });

  test('a severity change ends the alert under the previous severity; unknown previous ends the lower ones', () => {
    const v3 = makeAlert({ version: 3, severity: 'critical' });
    const ends = (previousSeverity?: 'low' | 'high' | 'critical') =>
      toAlertmanagerAlerts(v3, { now: NOW, ...(previousSeverity ? { previousSeverity } : {}) }).map((a) => [a.labels.severity, a.endsAt, a.labels.alert_id]);
    const open = ['critical', '2026-01-12T12:00:00.000Z', v3.id];
    assert.deepEqual(ends('critical'), [open]);
    assert.deepEqual(ends('high'), [open, ['high', '2026-01-05T11:59:00.000Z', v3.id]]);
    assert.deepEqual(ends(), [open, ['low', '2026-01-05T11:59:00.000Z', v3.id], ['medium', '2026-01-05T11:59:00.000Z', v3.id], ['high', '2026-01-05T11:59:00.000Z', v3.id]]);
    assert.equal(toAlertmanagerAlerts(makeAlert({ version: 1, severity: 'critical' }), { now: NOW }).length, 1, 'a first version has nothing to end');
  });

  test('endsAt never precedes startsAt (Alertmanager would reject the post)', () => {
    const future = makeAlert({ version: 2, detectedAt: '2026-01-06T00:00:00.000Z', status: 'resolved', resolvedAt: '2026-01-05T00:00:00.000Z' });
    for (const a of toAlertmanagerAlerts(future, { now: NOW })) assert.ok(Date.parse(a.endsAt) >= Date.parse(a.startsAt), JSON.stringify(a));
  });
});

describe('Kafka alert message', () => {
  test('keyed by alert id, value the alert JSON, headers kind/severity/version/status', () => {
    const a = makeAlert({ version: 2 });
    const m = alertMessage(a);
    assert.equal(m.key, a.id);
    assert.deepEqual(JSON.parse(String(m.value)), a);
    assert.deepEqual(m.headers, { kind: 'bulk-harvest', severity: 'high', version: '2', status: 'open', 'content-type': 'application/json' });
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
