/**
 * An incident notice in Elastic Common Schema field names, for SIEMs (Elastic, and the others that
 * read ECS: OpenSearch Security Analytics, Wazuh, Graylog's ECS pipelines, …). Pure.
 *
 * The document is nested JSON (`{"event": {"kind": "alert"}}`, not `"event.kind"`), as ECS documents
 * are indexed; `@timestamp` is the only dotted-looking name and is ECS's own. Everything tilewatch
 * knows that has no ECS field goes under `tilewatch.*` (custom fields live beside ECS's, under a name
 * ECS will never use). docs/siem.md lists every field and why it was chosen.
 */
import { isIP } from 'node:net';
import type { Alert, Severity } from '../core/alert.ts';
import { alertDescription, noticeSummary } from './alertText.ts';
import { incidentPageUrl } from './alertmanagerPayload.ts';
import { noticeOf } from './incidentNotice.ts';

/** The ECS release whose field reference the document follows (its `ecs.version`). */
export const ECS_VERSION = '9.4.0';

/**
 * `event.severity` (ECS: a number, "according to your event source"): tilewatch's four severities,
 * lowest first. Sinks filter on the incident's severity; this is the alert version's.
 */
export const ECS_SEVERITY: Readonly<Record<Severity, number>> = Object.freeze({ low: 1, medium: 2, high: 3, critical: 4 });

/** How alerts are written: tilewatch's own document (schemas/alert.schema.json) or ECS. */
export type AlertFormat = 'native' | 'ecs';

export interface EcsOptions {
  /** The web page (`sinks.webUrl`): `event.url` = `<webUrl>?incident=<id>`. */
  readonly webUrl?: string | null;
}

/** A JSON object as written (ECS documents are plain data). */
export type EcsDocument = Readonly<Record<string, unknown>>;

const ips = (list: readonly string[]): string[] => [...new Set(list.filter((ip) => isIP(ip) !== 0))];

/**
 * One alert version, as it reaches the sinks (with its incident notice), in ECS:
 * - `@timestamp`: when the version happened in event time (`resolvedAt` for a resolution, else the
 *   newest evidence, `lastSeen`); `event.start` / `event.end`: first and last evidence seen;
 * - `event.kind: alert`, `event.category: [intrusion_detection, web]`, `event.type: [info]`,
 *   `event.action`: `incident-opened` | `incident-escalated` | `incident-resolved`;
 * - `event.id`: `<alert id>:<version>` (one per version: updates of an alert are new events);
 * - `event.severity` 1–4 ({@link ECS_SEVERITY}), `event.risk_score`: the alert's score (0–100);
 * - `event.reason`: the measured reasons, `message`: the notice line the other sinks send;
 * - `event.url`: the incident in the web page, when `webUrl` is known;
 * - `rule.name` / `rule.id`: the alert kind, `rule.ruleset: tilewatch`;
 * - `source.ip` / `source.address`: the accused address (absent when the alert names none, e.g. an
 *   image exposure), `related.ip`: every address it names; `user_agent.original` when known;
 * - `observer.*` / `event.module` / `event.dataset`: where it came from;
 * - `tilewatch.*`: alert id, version, status, kind, score, subject, incident (id, severity, status,
 *   alerts, notice), client subnet, images, reasons with their values, evidence lineage.
 */
export function ecsAlert(a: Alert, opts: EcsOptions = {}): EcsDocument {
  const inc = noticeOf(a);
  const named = ips([a.client.ip, ...a.client.ips]);
  const source = isIP(a.client.ip) !== 0 ? a.client.ip : null;
  const url = opts.webUrl ? incidentPageUrl(opts.webUrl, inc.id) : null;
  return {
    '@timestamp': a.resolvedAt ?? a.lastSeen,
    message: noticeSummary(a),
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'alert',
      category: ['intrusion_detection', 'web'],
      type: ['info'],
      action: `incident-${inc.notice}`,
      id: `${a.id}:${a.version}`,
      severity: ECS_SEVERITY[a.severity],
      risk_score: a.score,
      reason: alertDescription(a),
      start: a.firstSeen,
      end: a.lastSeen,
      module: 'tilewatch',
      dataset: 'tilewatch.alert',
      provider: 'tilewatch',
      ...(url ? { url } : {}),
    },
    rule: { id: a.kind, name: a.kind, ruleset: 'tilewatch', category: 'tile harvesting' },
    ...(source ? { source: { ip: source, address: source } } : {}),
    ...(named.length > 0 ? { related: { ip: named } } : {}),
    ...(a.client.userAgent !== '' ? { user_agent: { original: a.client.userAgent } } : {}),
    observer: { vendor: 'tilewatch', product: 'tilewatch', type: 'ids' },
    tilewatch: {
      alert: {
        id: a.id,
        version: a.version,
        kind: a.kind,
        severity: a.severity,
        score: a.score,
        status: a.status,
        detected_at: a.detectedAt,
        ...(a.resolvedAt ? { resolved_at: a.resolvedAt } : {}),
        ...(a.subject !== undefined ? { subject: a.subject } : {}),
      },
      incident: { id: inc.id, severity: inc.severity, status: inc.status, alerts: inc.alerts, notice: inc.notice, ...(url ? { url } : {}) },
      client: { subnet: a.client.subnet, addresses: a.client.ips.length },
      images: a.images.map((i) => ({ id: i.id, protocol: i.protocol, coverage: i.coverage, scale: i.scale, long_edge: i.longEdge, requests: i.requests })),
      reasons: a.reasons.map((r) => ({ signal: r.signal, value: r.value, threshold: r.threshold, text: r.text })),
      evidence: {
        source: a.evidence.source,
        first_line: a.evidence.firstLine,
        last_line: a.evidence.lastLine,
        ...(a.evidence.from ? { from: a.evidence.from } : {}),
        ...(a.evidence.to ? { to: a.evidence.to } : {}),
      },
    },
  };
}
