/**
 * The ECS form of an alert (services/alerting/ecsAlert.ts), on a real alert: the streaming detector's
 * alert on a generated log with a scraper in it. Every field outside `tilewatch.*` must be an ECS field
 * with a value of its ECS type, and the categorisation fields must hold allowed values; the log,
 * webhook and Kafka sinks must send that same document.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, test } from 'node:test';
import { ECS_SEVERITY, ECS_VERSION, ecsAlert } from '../../../services/alerting/ecsAlert.ts';
import { alertMessage } from '../../../services/alerting/kafkaSink.ts';
import { createEcsLogSink } from '../../../services/alerting/logSink.ts';
import { webhookBody } from '../../../services/alerting/webhookSink.ts';
import type { Alert } from '../../../services/core/alert.ts';
import { detectLines } from '../../support/detectLog.ts';
import { scraperScenario } from '../../support/logs.ts';

/**
 * The ECS fields the document may use, with their type and whether ECS normalises them to arrays:
 * rows of the ECS 9.4.0 field reference (generated/csv/fields.csv of the ECS repository, columns
 * Field, Type, Normalization).
 */
const ECS_FIELDS: Readonly<Record<string, { type: string; array?: true }>> = {
  '@timestamp': { type: 'date' },
  message: { type: 'match_only_text' },
  'ecs.version': { type: 'keyword' },
  'event.action': { type: 'keyword' },
  'event.category': { type: 'keyword', array: true },
  'event.dataset': { type: 'keyword' },
  'event.end': { type: 'date' },
  'event.id': { type: 'keyword' },
  'event.kind': { type: 'keyword' },
  'event.module': { type: 'keyword' },
  'event.provider': { type: 'keyword' },
  'event.reason': { type: 'keyword' },
  'event.risk_score': { type: 'float' },
  'event.severity': { type: 'long' },
  'event.start': { type: 'date' },
  'event.type': { type: 'keyword', array: true },
  'event.url': { type: 'keyword' },
  'observer.product': { type: 'keyword' },
  'observer.type': { type: 'keyword' },
  'observer.vendor': { type: 'keyword' },
  'related.ip': { type: 'ip', array: true },
  'rule.category': { type: 'keyword' },
  'rule.id': { type: 'keyword' },
  'rule.name': { type: 'keyword' },
  'rule.ruleset': { type: 'keyword' },
  'source.address': { type: 'keyword' },
  'source.ip': { type: 'ip' },
  'user_agent.original': { type: 'keyword' },
};
/** Allowed values of the categorisation fields (ECS schemas/event.yml), the ones this document may use. */
const EVENT_KIND = ['alert', 'asset', 'enrichment', 'event', 'metric', 'state', 'pipeline_error', 'signal'];
/** event.category → the event.type values ECS expects with it. */
const EXPECTED_TYPES: Readonly<Record<string, readonly string[]>> = { intrusion_detection: ['allowed', 'denied', 'info'], web: ['access', 'error', 'info'] };

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Leaf fields by dotted path; an array of scalars is one leaf. */
function flatten(v: Json, at = '', out: Map<string, Json> = new Map()): Map<string, Json> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, at === '' ? k : `${at}.${k}`, out);
  } else out.set(at, v);
  return out;
}

function fitsType(value: Json, type: string): boolean {
  switch (type) {
    case 'date':
      return typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value) && Number.isFinite(Date.parse(value));
    case 'keyword':
    case 'match_only_text':
      return typeof value === 'string' && value !== '';
    case 'long':
      return Number.isSafeInteger(value);
    case 'float':
      return typeof value === 'number' && Number.isFinite(value);
    case 'ip':
      return typeof value === 'string' && isIP(value) !== 0;
    default:
      return false;
  }
}

/** Problems with a document as ECS: unknown fields, wrong types, disallowed categorisation values. */
function ecsProblems(doc: Json): string[] {
  const problems: string[] = [];
  const walkKeys = (v: Json, at: string): void => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('.') && k !== '@timestamp') problems.push(`${at}${k}: dotted key (ECS documents nest objects)`);
        walkKeys(x, `${at}${k}.`);
      }
  };
  walkKeys(doc, '');
  for (const [path, value] of flatten(doc)) {
    if (path.startsWith('tilewatch.')) continue;
    const f = ECS_FIELDS[path];
    if (!f) {
      problems.push(`${path}: not an ECS field`);
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    if (Array.isArray(value) && !f.array) problems.push(`${path}: an array where ECS has one value`);
    if (f.array && !Array.isArray(value)) problems.push(`${path}: ECS normalises it to an array`);
    for (const x of values) if (!fitsType(x, f.type)) problems.push(`${path}: ${JSON.stringify(x)} is not a ${f.type}`);
  }
  const flat = flatten(doc);
  if (!EVENT_KIND.includes(String(flat.get('event.kind')))) problems.push(`event.kind: ${String(flat.get('event.kind'))} is not allowed`);
  const categories = (flat.get('event.category') ?? []) as string[];
  for (const type of (flat.get('event.type') ?? []) as string[])
    for (const c of categories) if (!(EXPECTED_TYPES[c] ?? []).includes(type)) problems.push(`event.type ${type} is not expected with event.category ${c}`);
  return problems;
}

function scraperAlert(): { alert: Alert; ip: string; ua: string } {
  const s = scraperScenario(1);
  const run = detectLines(s.lines);
  const alert = run.alerts.find((a) => a.client.ip === s.scraperIp && a.status === 'open');
  assert.ok(alert, `the scraper is alerted (${run.alerts.length} alerts)`);
  const ua = s.lines.find((l) => l.startsWith(s.scraperIp))!.split('"').at(-2)!;
  return { alert, ip: s.scraperIp, ua };
}

describe('ECS alert documents', () => {
  const { alert, ip, ua } = scraperAlert();
  const WEB = 'https://tilewatch.example/console';

  test('a detected alert in ECS: only ECS fields of their ECS types outside tilewatch.*, the values the docs promise', () => {
    const doc = ecsAlert(alert, { webUrl: WEB }) as unknown as Json;
    assert.deepEqual(ecsProblems(doc), []);
    const f = flatten(doc);
    assert.equal(f.get('ecs.version'), ECS_VERSION);
    assert.equal(f.get('event.kind'), 'alert');
    assert.deepEqual(f.get('event.category'), ['intrusion_detection', 'web']);
    assert.equal(f.get('event.id'), `${alert.id}:${alert.version}`);
    assert.equal(f.get('event.severity'), ECS_SEVERITY[alert.severity]);
    assert.equal(f.get('event.risk_score'), alert.score);
    assert.equal(f.get('event.action'), 'incident-opened');
    assert.equal(f.get('@timestamp'), alert.lastSeen);
    assert.equal(f.get('event.start'), alert.firstSeen);
    assert.equal(f.get('source.ip'), ip);
    assert.deepEqual(f.get('related.ip'), [ip]);
    assert.equal(f.get('user_agent.original'), ua);
    assert.equal(f.get('rule.name'), 'bulk-harvest');
    assert.match(String(f.get('message')), new RegExp(`^incident ti-[0-9a-f]{20} opened \\(${alert.severity}\\), 1 alert: ${alert.severity.toUpperCase()} bulk-harvest by ${ip.replace(/\./g, '\\.')}`));
    assert.match(String(f.get('event.reason')), /raster/);
    assert.equal(f.get('event.url'), `https://tilewatch.example/console/?incident=${String(f.get('tilewatch.incident.id'))}`, 'the incident in the web page');
    assert.match(String(f.get('tilewatch.incident.id')), /^ti-[0-9a-f]{20}$/);
    // What ECS has no field for is kept under tilewatch.*.
    assert.equal(f.get('tilewatch.alert.id'), alert.id);
    assert.equal(f.get('tilewatch.alert.version'), alert.version);
    assert.equal(f.get('tilewatch.incident.notice'), 'opened');
    assert.equal(f.get('tilewatch.client.subnet'), alert.client.subnet);
    assert.equal(f.get('tilewatch.evidence.first_line'), alert.evidence.firstLine);
    const images = (doc as { tilewatch: { images: Array<{ id: string; coverage: number }> } }).tilewatch.images;
    assert.deepEqual(images.map((i) => i.id), alert.images.map((i) => i.id));
  });

  test('a resolution, a campaign and an alert naming no address stay valid ECS', () => {
    const resolved: Alert = { ...alert, version: alert.version + 1, status: 'resolved', resolvedAt: '2026-03-01T12:00:00.000Z', incident: { id: 'ti-0123456789abcdef0123', severity: alert.severity, status: 'resolved', alerts: 1, notice: 'resolved' } };
    const r = flatten(ecsAlert(resolved) as unknown as Json);
    assert.deepEqual(ecsProblems(ecsAlert(resolved) as unknown as Json), []);
    assert.equal(r.get('@timestamp'), '2026-03-01T12:00:00.000Z');
    assert.equal(r.get('event.action'), 'incident-resolved');
    assert.equal(r.has('event.url'), false, 'no link without webUrl');
    const campaign: Alert = { ...alert, kind: 'campaign', client: { ip: '198.51.100.7', ips: ['198.51.100.7', '198.51.100.8', 'not-an-ip', '198.51.100.8'], userAgent: '', subnet: '198.51.100.0/24' } };
    const c = flatten(ecsAlert(campaign) as unknown as Json);
    assert.deepEqual(ecsProblems(ecsAlert(campaign) as unknown as Json), []);
    assert.deepEqual(c.get('related.ip'), ['198.51.100.7', '198.51.100.8'], 'each valid address once');
    assert.equal(c.has('user_agent.original'), false, 'no empty user agent');
    const exposure: Alert = { ...alert, kind: 'image-exposure', client: { ip: '', ips: [], userAgent: '', subnet: '' }, subject: 'ms-1' };
    const e = flatten(ecsAlert(exposure) as unknown as Json);
    assert.deepEqual(ecsProblems(ecsAlert(exposure) as unknown as Json), []);
    assert.equal(e.has('source.ip'), false);
    assert.equal(e.get('tilewatch.alert.subject'), 'ms-1');
  });

  test('the log, webhook and Kafka sinks send that document', async () => {
    const expected = JSON.parse(JSON.stringify(ecsAlert(alert, { webUrl: WEB }))) as Json;
    const lines: string[] = [];
    await createEcsLogSink({ write: (l: string) => lines.push(l) }, { webUrl: WEB }).deliver(alert);
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith('\n') && !lines[0]!.slice(0, -1).includes('\n'), 'one line');
    assert.deepEqual(JSON.parse(lines[0]!), expected);
    assert.deepEqual(JSON.parse(webhookBody(alert, 'ecs', WEB)), expected);
    const msg = alertMessage(alert, { format: 'ecs', webUrl: WEB });
    assert.deepEqual(JSON.parse(String(msg.value)), expected);
    assert.equal(msg.key, (expected as { tilewatch: { incident: { id: string } } }).tilewatch.incident.id, 'still keyed by incident');
    assert.equal((JSON.parse(webhookBody(alert, 'json')) as { id: string }).id, alert.id, 'the default stays the native document');
  });

  test('the checker refuses what is not ECS (it can fail)', () => {
    const p = ecsProblems({ event: { kind: 'alarm', severity: 'high', category: 'web', type: ['access'] }, source: { ip: 'nope' }, 'client.ip': '1.2.3.4', url: { original: 'x' } } as Json);
    for (const expected of [
      'client.ip: dotted key (ECS documents nest objects)',
      'client.ip: not an ECS field',
      'event.severity: "high" is not a long',
      'event.category: ECS normalises it to an array',
      'source.ip: "nope" is not a ip',
      'url.original: not an ECS field',
      'event.kind: alarm is not allowed',
    ])
      assert.ok(p.includes(expected), `${expected} in ${JSON.stringify(p)}`);
  });
});
