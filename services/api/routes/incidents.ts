import type { FastifyRequest } from 'fastify';
import { MAX_BAND } from '../../incidents/bands.ts';
import { coverageMap } from '../../incidents/coverageMap.ts';
import { renderCoverageSvg } from '../../incidents/coverageSvg.ts';
import { exportEvidence, type EvidenceSubject } from '../../incidents/evidence.ts';
import { imageExposure, imageExtent } from '../../incidents/exposure.ts';
import { DEFAULT_DIGEST_POLICY, exposureDigest } from '../../incidents/exposureDigest.ts';
import {
  completeRange,
  InvalidInputError,
  parseAlertId,
  parseCidrRange,
  parseClientIp,
  parseDay,
  parseImageId,
  parseLimit,
  parseNumber,
  parseRange,
  parseSearchText,
  type TimeRange,
} from '../../incidents/inputs.ts';
import { incidentReport, type ReportQuery } from '../../incidents/report.ts';
import { newestDataTime, searchClients, type SearchBy } from '../../incidents/search.ts';
import { BUCKETS_S, clientExtent, clientTimeline } from '../../incidents/timeline.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { coverageNum, DigestSchema, ExposureSchema, imageIdText, ipText, ReportBody, ReportSchema, responses, SearchSchema, time, TimelineSchema } from '../schemas.ts';
import { sentField, type ApiApp } from '../types.ts';

const sec = [{ bearer: [] }];
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const ipParams = { type: 'object', required: ['ip'], properties: { ip: ipText } } as const;

interface ReportInput {
  images: string[];
  from: string;
  to: string;
  minLongEdge?: number;
  minCoverage?: number;
}

/** The incident questions: timeline, exposure, exposure digest, coverage map, report, search, evidence. Analysts only. */
export function registerIncidentRoutes(app: ApiApp, deps: ApiDeps): void {
  const cfg = deps.config;
  const ipTarget = (req: FastifyRequest) => ({ type: 'ip' as const, value: str(sentField(req.params, 'ip')) });

  app.get(
    '/api/v1/clients/:ip/timeline',
    {
      config: { access: 'analyst', audit: { action: 'timeline', target: ipTarget } },
      schema: {
        tags: ['incidents'],
        security: sec,
        params: ipParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { from: time, to: time, bucket: { type: 'integer', enum: [...BUCKETS_S], description: 'bucket seconds (default: chosen from the range)' } },
        },
        response: responses(TimelineSchema),
      },
    },
    async (req) => {
      const ip = parseClientIp(req.params.ip);
      const q = req.query;
      const t = await clientTimeline(deps.store, {
        ip,
        range: parseRange(q.from, q.to, cfg.maxSpanMs),
        maxSpanMs: cfg.maxSpanMs,
        ...(q.bucket !== undefined ? { bucketSeconds: q.bucket } : {}),
        maxImages: cfg.maxClients,
      });
      if (!t) throw new ApiError('not_found', `no stored requests from ${ip.text}`);
      return t;
    },
  );

  app.get(
    '/api/v1/clients/:ip/coverage.svg',
    {
      config: { access: 'analyst', audit: { action: 'coverage-map', target: ipTarget } },
      schema: {
        tags: ['incidents'],
        security: sec,
        params: ipParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['image'],
          properties: { image: imageIdText, band: { type: 'integer', minimum: 0, maximum: 12 }, from: time, to: time },
        },
        response: responses({ type: 'string', description: 'image/svg+xml' }),
      },
    },
    async (req, reply) => {
      const ip = parseClientIp(req.params.ip);
      const q = req.query;
      const imageId = parseImageId(q.image);
      const partial = parseRange(q.from, q.to, cfg.maxSpanMs);
      const extent = await clientExtent(deps.store, ip);
      if (!extent) throw new ApiError('not_found', `no stored requests from ${ip.text}`);
      const range = completeRange(partial, extent, cfg.maxSpanMs);
      const band = parseNumber(q.band, 'band', 0, MAX_BAND, true);
      const map = await coverageMap(deps.store, { ip, imageId, range, ...(band !== undefined ? { band } : {}) });
      if (!map) throw new ApiError('not_found', `${ip.text} revealed nothing of ${imageId} in that range`);
      reply.header('content-type', 'image/svg+xml; charset=utf-8');
      return renderCoverageSvg(map);
    },
  );

  app.get(
    '/api/v1/images/exposure',
    {
      config: { access: 'analyst', audit: { action: 'exposure', target: (req) => ({ type: 'image', value: str(sentField(req.query, 'image')) }) } },
      schema: {
        tags: ['incidents'],
        security: sec,
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['image'],
          properties: { image: imageIdText, from: time, to: time, minCoverage: coverageNum },
        },
        response: responses(ExposureSchema),
      },
    },
    async (req) => {
      const q = req.query;
      const imageId = parseImageId(q.image);
      const partial = parseRange(q.from, q.to, cfg.maxSpanMs);
      const extent = await imageExtent(deps.store, imageId);
      if (!extent) throw new ApiError('not_found', `no stored requests for image ${imageId}`);
      return imageExposure(deps.store, {
        imageId,
        range: completeRange(partial, extent, cfg.maxSpanMs),
        minCoverage: parseNumber(q.minCoverage, 'minCoverage', 0.01, 1) ?? cfg.minCoverage,
        maxClients: cfg.maxClients,
      });
    },
  );

  app.get(
    '/api/v1/exposure/digest',
    {
      config: { access: 'analyst', audit: { action: 'exposure.digest', target: (req) => ({ type: 'day', value: str(sentField(req.query, 'day')) }) } },
      schema: {
        tags: ['incidents'],
        security: sec,
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['day'],
          properties: { day: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'calendar day (UTC), YYYY-MM-DD' } },
        },
        response: responses(DigestSchema),
      },
    },
    async (req) => {
      const day = parseDay(req.query.day);
      return exposureDigest(deps.store, { day, lookbackMs: cfg.maxSpanMs, policy: DEFAULT_DIGEST_POLICY, maxClients: cfg.maxClients }, { now: deps.clock.now() });
    },
  );

  const reportQuery = (b: ReportInput): ReportQuery => {
    const r = parseRange(b.from, b.to, cfg.maxSpanMs) as TimeRange;
    return {
      imageIds: [...new Set(b.images.map(parseImageId))],
      range: r,
      minLongEdge: parseNumber(b.minLongEdge, 'minLongEdge', 0, 1_000_000, true) ?? 0,
      minCoverage: parseNumber(b.minCoverage, 'minCoverage', 0.01, 1) ?? cfg.minCoverage,
      maxClients: cfg.maxClients,
    };
  };

  app.post(
    '/api/v1/reports',
    {
      config: { access: 'analyst', audit: { action: 'report', target: (req) => ({ type: 'report', value: JSON.stringify(sentField(req.body, 'images') ?? []) }) } },
      schema: { tags: ['incidents'], security: sec, body: ReportBody, response: responses(ReportSchema) },
    },
    async (req) => incidentReport(deps.store, reportQuery(req.body)),
  );

  app.get(
    '/api/v1/search',
    {
      config: {
        access: 'analyst',
        audit: {
          action: 'search',
          target: (req) => {
            const sent = (key: string) => sentField(req.query, key);
            if (sent('ip') !== undefined) return { type: 'ip', value: str(sent('ip')) };
            if (sent('cidr') !== undefined) return { type: 'cidr', value: str(sent('cidr')) };
            if (sent('ua') !== undefined) return { type: 'user_agent', value: str(sent('ua')) };
            return { type: 'image', value: str(sent('image')) };
          },
        },
      },
      schema: {
        tags: ['incidents'],
        security: sec,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ip: ipText,
            cidr: { type: 'string', minLength: 1, maxLength: 64, description: 'CIDR block (at least /8 for IPv4, /32 for IPv6)' },
            ua: { type: 'string', minLength: 2, maxLength: 256, description: 'user agent substring (case-insensitive)' },
            image: imageIdText,
            from: time,
            to: time,
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
          },
        },
        response: responses(SearchSchema),
      },
    },
    async (req) => {
      const q = req.query;
      const given = [q.ip, q.cidr, q.ua, q.image].filter((v) => v !== undefined).length;
      if (given !== 1) throw new InvalidInputError('give exactly one of ip, cidr, ua, image');
      const by: SearchBy =
        q.ip !== undefined
          ? { ip: parseClientIp(q.ip) }
          : q.cidr !== undefined
            ? { cidr: parseCidrRange(q.cidr) }
            : q.ua !== undefined
              ? { userAgent: parseSearchText(q.ua, 'ua') }
              : { image: parseImageId(q.image!) };
      const partial = parseRange(q.from, q.to, cfg.maxSpanMs);
      // Without a range: the newest maxSpan of stored data (user-agent and image searches scan by time).
      const to = partial.to ?? (await newestDataTime(deps.store)) + 1;
      const range: TimeRange = { from: partial.from ?? to - cfg.maxSpanMs, to };
      if (range.from >= range.to || range.to - range.from > cfg.maxSpanMs) throw new InvalidInputError(`the time range must be forward and span at most ${Math.round(cfg.maxSpanMs / 86_400_000)} days`);
      return searchClients(deps.store, by, range, parseLimit(q.limit, cfg.defaultListRows, cfg.maxListRows));
    },
  );

  app.post(
    '/api/v1/evidence',
    {
      config: {
        access: 'analyst',
        audit: {
          action: 'export',
          target: (req) => {
            const alert = sentField(req.body, 'alert');
            const client = sentField(req.body, 'client');
            if (alert !== undefined) return { type: 'alert', value: str(alert) };
            if (client !== undefined) return { type: 'client', value: str(client) };
            return { type: 'report', value: JSON.stringify(sentField(sentField(req.body, 'report'), 'images') ?? []) };
          },
        },
      },
      schema: {
        tags: ['incidents'],
        security: sec,
        description: 'Exactly one of alert, client (with optional from/to) or report. Returns a tar archive (application/x-tar).',
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { alert: { type: 'string', minLength: 1, maxLength: 128 }, client: ipText, from: time, to: time, report: ReportBody },
        },
        response: responses({ type: 'string', format: 'binary' }),
      },
    },
    async (req, reply) => {
      const b = req.body;
      const given = [b.alert, b.client, b.report].filter((v) => v !== undefined).length;
      if (given !== 1) throw new InvalidInputError('give exactly one of alert, client, report');
      const subject: EvidenceSubject =
        b.alert !== undefined
          ? { alert: parseAlertId(b.alert) }
          : b.client !== undefined
            ? { client: parseClientIp(b.client, 'client'), range: parseRange(b.from, b.to, cfg.maxSpanMs) }
            : { report: reportQuery(b.report!) };
      const archive = await exportEvidence(deps.store, subject, {
        now: deps.clock.now(),
        actor: `${req.principal?.name ?? '?'} (${req.principal?.id ?? '?'})`,
        maxRows: cfg.maxExportRows,
        maxSpanMs: cfg.maxSpanMs,
      });
      reply.header('content-type', 'application/x-tar');
      reply.header('content-disposition', `attachment; filename="${archive.name}"`);
      return reply.send(archive.tar);
    },
  );
}
