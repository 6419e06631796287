import type { AlertAction } from '../incidents/alerts.ts';
/** JSON schemas shared by the routes (request validation, response serialisation, OpenAPI). */
import { ALERT_KINDS, SEVERITIES } from '../core/alert.ts';
import { EFFECTIVE_STATUSES } from '../incidents/alerts.ts';
import { INCIDENT_STATUSES } from '../incidents/incidentView.ts';
import { ROLES } from '../incidents/roles.ts';

export const ErrorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;

const err = { $ref: 'Error#' } as const;

/** Responses of a route: its 200 plus the error shape for every failure status. */
export function responses(ok: object, okStatus = 200): Record<number, object> {
  return { [okStatus]: ok, 400: err, 401: err, 403: err, 404: err, 413: err, 422: err, 429: err, 500: err, 503: err };
}

export const time = { type: 'string', minLength: 1, maxLength: 40, description: 'ISO-8601 time (UTC), e.g. 2026-03-02T14:00:00Z' } as const;
export const ipText = { type: 'string', minLength: 1, maxLength: 64, description: 'IPv4 or IPv6 address' } as const;
export const imageIdText = { type: 'string', minLength: 1, maxLength: 512, description: 'image id as in the tile URLs' } as const;
export const alertIdText = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' } as const;
export const coverageNum = { type: 'number', minimum: 0.01, maximum: 1, description: 'fraction of a band that counts as reconstructable (default 0.9)' } as const;
const nstr = { type: ['string', 'null'] } as const;
const str = { type: 'string' } as const;
const num = { type: 'number' } as const;
const int = { type: 'integer' } as const;
const strArr = { type: 'array', items: str } as const;

export const AlertSummarySchema = {
  type: 'object',
  properties: {
    id: str,
    version: int,
    kind: { type: 'string', enum: [...ALERT_KINDS] },
    severity: { type: 'string', enum: [...SEVERITIES] },
    score: num,
    status: { type: 'string', enum: [...EFFECTIVE_STATUSES] },
    detectorStatus: str,
    firstSeen: str,
    detectedAt: str,
    lastSeen: str,
    imageIds: strArr,
    reasons: str,
    client: { type: 'object', properties: { ip: str, ips: strArr, userAgent: str, subnet: str } },
    mutedUntil: nstr,
    lastAction: { type: ['object', 'null'], properties: { action: str, at: str } },
    incidentId: { type: 'string', description: 'the incident the alert belongs to (GET /api/v1/incidents/:id)' },
    network: {
      type: ['object', 'null'],
      description: "network context of the alert's client from the ASN data (docs/network-context.md); null for alerts stored before it",
      properties: {
        asn: { type: 'integer', description: 'autonomous system number; 0 when unknown' },
        org: str,
        kind: { type: 'string', enum: ['hosting', 'residential/other', 'unknown'] },
        provider: { type: 'string', description: "the hosting provider's name (hosting networks only)" },
      },
    },
  },
} as const;

export const AlertListSchema = { type: 'object', properties: { items: { type: 'array', items: AlertSummarySchema }, nextCursor: nstr } } as const;

export const AlertDetailSchema = {
  type: 'object',
  properties: {
    alert: AlertSummarySchema,
    body: { type: 'object', additionalProperties: true, description: 'the detector document (schemas/alert.schema.json); analysts only' },
    reasons: strArr,
    actions: { type: 'array', items: { type: 'object', properties: { action: str, at: str, actor: str, note: str, muteUntil: nstr } } },
  },
} as const;

const severity = { type: 'string', enum: [...SEVERITIES] } as const;
const kind = { type: 'string', enum: [...ALERT_KINDS] } as const;
const incidentStatus = { type: 'string', enum: [...INCIDENT_STATUSES] } as const;
const severityCounts = { type: 'object', properties: Object.fromEntries(SEVERITIES.map((s) => [s, int])) } as const;

export const incidentIdText = { ...alertIdText, description: 'incident id (ti-…), or the id of an alert in it (tw-…)' } as const;

export const IncidentSummarySchema = {
  type: 'object',
  properties: {
    id: str,
    severity,
    status: incidentStatus,
    firstDetected: str,
    lastSeen: str,
    alertCount: int,
    alertsByStatus: { type: 'object', properties: Object.fromEntries(EFFECTIVE_STATUSES.map((s) => [s, int])) },
    alerts: { type: 'array', items: { type: 'object', properties: { id: str, kind, severity, status: { type: 'string', enum: [...EFFECTIVE_STATUSES] } } } },
    kinds: { type: 'array', items: kind },
    addresses: { ...strArr, description: 'accused addresses (analysts and admins only)' },
    addressCount: int,
    imageIds: strArr,
    imageCount: int,
  },
} as const;

export const IncidentListSchema = {
  type: 'object',
  properties: {
    counts: { ...severityCounts, description: 'open incidents per severity, over all incidents' },
    items: { type: 'array', items: IncidentSummarySchema },
    nextCursor: nstr,
  },
} as const;

export const IncidentDetailSchema = {
  type: 'object',
  properties: { incident: IncidentSummarySchema, alerts: { type: 'array', items: AlertDetailSchema } },
} as const;

export const IncidentListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kind: { ...kind, description: 'an alert of this kind among its alerts' },
    severity,
    status: incidentStatus,
    cursor: { type: 'string', maxLength: 300 },
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
  },
} as const;

const digestIncident = {
  type: 'object',
  properties: { id: str, severity, status: incidentStatus, kinds: { type: 'array', items: kind }, alertCount: int, firstDetected: str, lastSeen: str },
} as const;

export const DigestSchema = {
  type: 'object',
  properties: {
    day: str,
    from: str,
    to: str,
    since: str,
    policy: { type: 'object', properties: { minCoverage: num, minEdgeRatio: num, defaultOpenDataLongEdge: int } },
    images: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          imageId: str,
          width: int,
          height: int,
          openDataLongEdge: int,
          exposedAt: str,
          band: int,
          longEdge: int,
          coverage: num,
          clientCount: int,
          clients: {
            type: 'array',
            items: { type: 'object', properties: { ip: str, cells: int, share: num, requests: int, firstSeen: str, lastSeen: str, incidents: strArr } },
          },
          incidents: { type: 'array', items: digestIncident },
        },
      },
    },
  },
} as const;

export const AlertListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kind: { type: 'string', enum: [...ALERT_KINDS] },
    severity: { type: 'string', enum: [...SEVERITIES] },
    status: { type: 'string', enum: [...EFFECTIVE_STATUSES] },
    client: { ...ipText, description: 'client IP (analysts only)' },
    from: time,
    to: time,
    cursor: { type: 'string', maxLength: 300 },
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
  },
} as const;

const bandSchema = {
  type: 'object',
  properties: { band: int, scale: num, longEdge: int, cells: int, totalCells: int, coverage: num, firstRevealAt: str, lastRevealAt: str, reachedAt: nstr },
} as const;
const evidenceSchema = { type: 'object', properties: { source: str, partition: int, line: int, at: str } } as const;

export const ExposureSchema = {
  type: 'object',
  properties: {
    imageId: str,
    size: { type: ['object', 'null'], properties: { width: int, height: int, source: str } },
    from: str,
    to: str,
    minCoverage: num,
    union: { type: 'object', properties: { bands: { type: 'array', items: bandSchema }, reconstructLongEdge: int } },
    clients: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          ip: str,
          requests: int,
          firstSeen: str,
          lastSeen: str,
          bands: { type: 'array', items: bandSchema },
          reconstructLongEdge: int,
          firstEvidence: evidenceSchema,
          lastEvidence: evidenceSchema,
        },
      },
    },
    clientCount: int,
    truncated: { type: 'boolean' },
  },
} as const;

export const TimelineSchema = {
  type: 'object',
  properties: {
    ip: str,
    network: {
      type: 'object',
      description: "the client's network from the ASN data (docs/network-context.md): asn 0 and kind 'unknown' without data",
      properties: { asn: int, org: str, kind: { type: 'string', enum: ['hosting', 'residential/other', 'unknown'] }, provider: str },
    },
    from: str,
    to: str,
    bucketSeconds: int,
    totals: { type: 'object', properties: { requests: int, images: int, userAgents: strArr } },
    buckets: {
      type: 'array',
      items: {
        type: 'object',
        properties: { t: str, requests: int, tiles: int, errors: int, bytes: int, images: int, newCells: int, cumulativeCells: int, revealedMegapixels: num },
      },
    },
    images: {
      type: 'array',
      items: { type: 'object', properties: { imageId: str, protocol: str, tiles: int, cells: int, firstSeen: str, lastSeen: str, maxScale: num } },
    },
    alerts: { type: 'array', items: { type: 'object', properties: { id: str, kind: str, severity: str, score: num, detectedAt: str } } },
  },
} as const;

export const ReportSchema = {
  type: 'object',
  properties: {
    from: str,
    to: str,
    minLongEdge: int,
    minCoverage: num,
    images: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          imageId: str,
          width: int,
          height: int,
          union: { type: 'object', properties: { longEdge: int, since: nstr } },
          clients: {
            type: 'array',
            items: { type: 'object', properties: { ip: str, longEdge: int, since: str, requests: int, firstEvidence: evidenceSchema, lastEvidence: evidenceSchema } },
          },
        },
      },
    },
  },
} as const;

export const ReportBody = {
  type: 'object',
  additionalProperties: false,
  required: ['images', 'from', 'to'],
  properties: {
    images: { type: 'array', minItems: 1, maxItems: 50, items: imageIdText },
    from: time,
    to: time,
    minLongEdge: { type: 'integer', minimum: 0, maximum: 1_000_000, description: 'long edge in px a client must be able to reconstruct (default 0)' },
    minCoverage: coverageNum,
  },
} as const;

export const SearchSchema = {
  type: 'object',
  properties: {
    hits: {
      type: 'array',
      items: { type: 'object', properties: { ip: str, requests: int, tiles: int, images: int, firstSeen: str, lastSeen: str, userAgents: strArr, alerts: int } },
    },
    truncated: { type: 'boolean' },
  },
} as const;

export const TokenSchema = {
  type: 'object',
  properties: { id: str, name: str, role: { type: 'string', enum: [...ROLES] }, createdAt: str, createdBy: str, revoked: { type: 'boolean' }, token: str },
} as const;

export const RuleSchema = {
  type: 'object',
  properties: {
    id: str,
    type: { type: 'string', enum: ['allow', 'mute'] },
    cidr: str,
    userAgent: str,
    alertKind: str,
    imageId: str,
    note: str,
    createdBy: str,
    createdAt: str,
    expiresAt: nstr,
  },
} as const;

export const AuditSchema = {
  type: 'object',
  properties: {
    items: {
      type: 'array',
      items: { type: 'object', properties: { at: str, actor: str, role: str, action: str, targetType: str, target: str, params: str, status: int } },
    },
  },
} as const;

export const SummarySchema = {
  type: 'object',
  properties: {
    requests: int,
    clients: int,
    images: int,
    from: nstr,
    to: nstr,
    alertsByStatus: { type: 'object', additionalProperties: int },
    alertsBySeverity: { type: 'object', additionalProperties: int },
  },
} as const;

export const OkSchema = { type: 'object', properties: { ok: { type: 'boolean' } } } as const;

/** The analyst actions on an alert or an incident: the path segment and what it records. */
export const ACTION_ROUTES: ReadonlyArray<{ readonly path: string; readonly action: AlertAction }> = [
  { path: 'ack', action: 'acknowledge' },
  { path: 'mute', action: 'mute' },
  { path: 'resolve', action: 'resolve' },
  { path: 'reopen', action: 'reopen' },
];

const noteText = () => ({ type: 'string', maxLength: 2000 }) as const;
const noteBody = () => ({ type: 'object', additionalProperties: false, properties: { note: noteText() } }) as const;
const muteBody = () => ({ type: 'object', additionalProperties: false, required: ['until'], properties: { note: noteText(), until: time } }) as const;

/** Body of an action: a note, and for a mute its expiry (required). A fresh schema object per route. */
export function actionBody(action: AlertAction): ReturnType<typeof noteBody> | ReturnType<typeof muteBody> {
  return action === 'mute' ? muteBody() : noteBody();
}
