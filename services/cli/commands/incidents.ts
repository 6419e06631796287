/**
 * The incident questions from the command line — `timeline`, `exposure`, `digest`, `report`, `evidence` —
 * through the same services/incidents modules the API uses. Tables for people, `--json` for
 * programs. Every lookup is written to the audit log as `cli:<user>`.
 */
import { writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { writeAudit, type AuditTargetType } from '../../incidents/audit.ts';
import { exportEvidence, NotFoundError, TooManyRowsError, type EvidenceSubject } from '../../incidents/evidence.ts';
import { imageExposure, imageExtent } from '../../incidents/exposure.ts';
import { DEFAULT_DIGEST_POLICY, exposureDigest } from '../../incidents/exposureDigest.ts';
import { completeRange, InvalidInputError, parseAlertId, parseClientIp, parseDay, parseImageId, parseRange, type TimeRange } from '../../incidents/inputs.ts';
import { incidentReport, type ReportQuery } from '../../incidents/report.ts';
import { clientTimeline } from '../../incidents/timeline.ts';
import { DEFAULT_API_CONFIG } from '../../api/apiConfig.ts';
import type { Store } from '../../store/openStore.ts';
import { EXIT, UsageError } from '../exitCodes.ts';
import { formatTable } from '../formatTable.ts';
import { openContext, type CommonFlags } from './context.ts';

interface RangeFlags extends CommonFlags {
  readonly from?: string;
  readonly to?: string;
  readonly json?: boolean;
}

const LIMITS = DEFAULT_API_CONFIG;

export function cliActor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry (containers): keep 'unknown' */
  }
  return `cli:${user}`;
}

/** Input errors are usage errors (exit 2); missing data is a failure with a message (exit 1). */
async function withStore(flags: CommonFlags, fn: (store: Store) => Promise<number>): Promise<number> {
  const { store } = await openContext(flags);
  try {
    return await fn(store);
  } catch (err) {
    if (err instanceof InvalidInputError) throw new UsageError(err.message);
    if (err instanceof NotFoundError || err instanceof TooManyRowsError) {
      process.stderr.write(`tilewatch: ${err.message}\n`);
      return EXIT.FAILURE;
    }
    throw err;
  } finally {
    await store.close();
  }
}

/** Runs an input parser: invalid input (ids, filters, times, notes) is a usage error, exit 2. */
export function parsed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidInputError) throw new UsageError(err.message);
    throw err;
  }
}

async function audit(store: Store, action: string, targetType: AuditTargetType, target: string, params: Record<string, unknown>): Promise<void> {
  await writeAudit(store, { at: Date.now(), actor: cliActor(), role: 'cli', action, targetType, target, params, status: 200 });
}

const out = (s: string): boolean => process.stdout.write(s);

export async function runTimeline(ipText: string, flags: RangeFlags & { bucket?: number }): Promise<number> {
  const ip = parsed(() => parseClientIp(ipText));
  const range = parsed(() => parseRange(flags.from, flags.to, LIMITS.maxSpanMs));
  return withStore(flags, async (store) => {
    await audit(store, 'timeline', 'ip', ip.text, { from: flags.from, to: flags.to });
    const t = await clientTimeline(store, { ip, range, maxSpanMs: LIMITS.maxSpanMs, ...(flags.bucket ? { bucketSeconds: flags.bucket } : {}), maxImages: LIMITS.maxClients });
    if (!t) throw new NotFoundError(`no stored requests from ${ip.text}`);
    if (flags.json) {
      out(`${JSON.stringify(t)}\n`);
      return EXIT.OK;
    }
    out(`client ${t.ip}: ${t.totals.requests} requests, ${t.totals.images} images, ${t.from} … ${t.to} (buckets of ${t.bucketSeconds} s)\n`);
    out(`user agents: ${t.totals.userAgents.join(' | ')}\n\n`);
    out(formatTable(t.buckets.map((b) => ({ bucket: b.t, requests: b.requests, tiles: b.tiles, errors: b.errors, images: b.images, new_cells: b.newCells, cells: b.cumulativeCells, revealed_mpx: b.revealedMegapixels }))));
    out('\nimages touched\n');
    out(formatTable(t.images.map((i) => ({ image: i.imageId, protocol: i.protocol, tiles: i.tiles, cells: i.cells, first: i.firstSeen, last: i.lastSeen, max_scale: i.maxScale }))) || '(none)\n');
    out('\nalerts\n');
    out(formatTable(t.alerts.map((a) => ({ id: a.id, kind: a.kind, severity: a.severity, score: a.score, detected: a.detectedAt }))) || '(none)\n');
    return EXIT.OK;
  });
}

export async function runExposure(imageText: string, flags: RangeFlags & { minCoverage?: number }): Promise<number> {
  const imageId = parsed(() => parseImageId(imageText));
  const partial = parsed(() => parseRange(flags.from, flags.to, LIMITS.maxSpanMs));
  return withStore(flags, async (store) => {
    await audit(store, 'exposure', 'image', imageId, { from: flags.from, to: flags.to });
    const extent = await imageExtent(store, imageId);
    if (!extent) throw new NotFoundError(`no stored requests for image ${imageId}`);
    const e = await imageExposure(store, { imageId, range: completeRange(partial, extent, LIMITS.maxSpanMs), minCoverage: flags.minCoverage ?? LIMITS.minCoverage, maxClients: LIMITS.maxClients });
    if (flags.json) {
      out(`${JSON.stringify(e)}\n`);
      return EXIT.OK;
    }
    const size = e.size ? `${e.size.width}×${e.size.height} (${e.size.source})` : 'size unknown';
    out(`image ${e.imageId} ${size}, ${e.from} … ${e.to}: ${e.clientCount} client(s); all together reconstructable at ${e.union.reconstructLongEdge} px (≥ ${e.minCoverage * 100} % of a band)\n\n`);
    out(formatTable(e.union.bands.map((b) => ({ band: b.band, long_edge: b.longEdge, cells: `${b.cells}/${b.totalCells}`, coverage: b.coverage, first: b.firstRevealAt, reached: b.reachedAt ?? '' }))));
    out('\nper client\n');
    const rows = e.clients.flatMap((c) =>
      c.bands.map((b) => ({ client: c.ip, requests: c.requests, band: b.band, long_edge: b.longEdge, coverage: b.coverage, first: b.firstRevealAt, reached: b.reachedAt ?? '', evidence: `${c.firstEvidence.source}:${c.firstEvidence.line}` })),
    );
    out(formatTable(rows) || '(none)\n');
    if (e.truncated) out(`(first ${e.clients.length} of ${e.clientCount} clients)\n`);
    return EXIT.OK;
  });
}

export async function runDigest(flags: CommonFlags & { day: string; json?: boolean }): Promise<number> {
  const day = parsed(() => parseDay(flags.day, '--day'));
  return withStore(flags, async (store) => {
    await audit(store, 'exposure.digest', 'day', flags.day, { day: flags.day });
    const d = await exposureDigest(store, { day, lookbackMs: LIMITS.maxSpanMs, policy: DEFAULT_DIGEST_POLICY, maxClients: LIMITS.maxClients }, { now: Date.now() });
    if (flags.json) {
      out(`${JSON.stringify(d)}\n`);
      return EXIT.OK;
    }
    const p = d.policy;
    out(`exposure digest ${d.day}: ${d.images.length} image(s) newly reconstructable beyond policy (≥ ${p.minCoverage * 100} % of a band with a long edge ≥ ${p.minEdgeRatio}× the open-data edge; requests since ${d.since})\n`);
    for (const im of d.images) {
      out(`\n${im.imageId} (${im.width}×${im.height}, open data ${im.openDataLongEdge} px): ${im.longEdge} px at ${Math.round(im.coverage * 1000) / 10} % since ${im.exposedAt}; ${im.clientCount} client(s)\n`);
      out(formatTable(im.clients.map((c) => ({ client: c.ip, cells: c.cells, share: `${Math.round(c.share * 1000) / 10} %`, requests: c.requests, first: c.firstSeen, last: c.lastSeen, incidents: c.incidents.join(' ') || '-' })), 140));
      out(im.incidents.length === 0 ? 'incidents: none\n' : `incidents: ${im.incidents.map((i) => `${i.id} (${i.severity}, ${i.status}, ${i.kinds.join('+')})`).join('; ')}\n`);
    }
    return EXIT.OK;
  });
}

interface ReportFlags extends RangeFlags {
  readonly image?: readonly string[];
  readonly minLongEdge?: number;
  readonly minCoverage?: number;
}

function reportQuery(flags: ReportFlags): ReportQuery {
  return parsed(() => {
    if (!flags.image || flags.image.length === 0) throw new InvalidInputError('give at least one --image');
    if (flags.from === undefined || flags.to === undefined) throw new InvalidInputError('give --from and --to');
    return {
      imageIds: [...new Set(flags.image.map(parseImageId))],
      range: parseRange(flags.from, flags.to, LIMITS.maxSpanMs) as TimeRange,
      minLongEdge: flags.minLongEdge ?? 0,
      minCoverage: flags.minCoverage ?? LIMITS.minCoverage,
      maxClients: LIMITS.maxClients,
    };
  });
}

export async function runReport(flags: ReportFlags): Promise<number> {
  const q = reportQuery(flags);
  return withStore(flags, async (store) => {
    await audit(store, 'report', 'report', JSON.stringify(q.imageIds), { from: flags.from, to: flags.to, minLongEdge: q.minLongEdge });
    const r = await incidentReport(store, q);
    if (flags.json) {
      out(`${JSON.stringify(r)}\n`);
      return EXIT.OK;
    }
    out(`incident report ${r.from} … ${r.to}: clients able to reconstruct at ≥ ${r.minLongEdge} px long edge (≥ ${r.minCoverage * 100} % of a band)\n`);
    for (const im of r.images) {
      out(`\n${im.imageId} (${im.width}×${im.height}): ${im.clients.length} client(s); all together: ${im.union.since ? `${im.union.longEdge} px since ${im.union.since}` : 'not reconstructable'}\n`);
      out(
        formatTable(
          im.clients.map((c) => ({
            client: c.ip,
            long_edge: c.longEdge,
            since: c.since,
            requests: c.requests,
            first_evidence: `${c.firstEvidence.source}:${c.firstEvidence.line} @ ${c.firstEvidence.at}`,
            last_evidence: `${c.lastEvidence.source}:${c.lastEvidence.line} @ ${c.lastEvidence.at}`,
          })),
          120,
        ),
      );
    }
    return EXIT.OK;
  });
}

interface EvidenceFlags extends ReportFlags {
  readonly alert?: string;
  readonly client?: string;
  readonly output: string;
}

export async function runEvidence(flags: EvidenceFlags): Promise<number> {
  const given = [flags.alert, flags.client, flags.image].filter((v) => v !== undefined).length;
  if (given !== 1) throw new UsageError('give exactly one of --alert ID, --client IP, or --image … (a report: with --from, --to, --min-long-edge)');
  const subject: EvidenceSubject = parsed(() =>
    flags.alert !== undefined
      ? { alert: parseAlertId(flags.alert) }
      : flags.client !== undefined
        ? { client: parseClientIp(flags.client, 'client'), range: parseRange(flags.from, flags.to, LIMITS.maxSpanMs) }
        : { report: reportQuery(flags) },
  );
  return withStore(flags, async (store) => {
    const target: [AuditTargetType, string] =
      'alert' in subject ? ['alert', subject.alert] : 'client' in subject ? ['client', subject.client.text] : ['report', JSON.stringify(subject.report.imageIds)];
    await audit(store, 'export', target[0], target[1], { from: flags.from, to: flags.to, output: flags.output });
    const archive = await exportEvidence(store, subject, { now: Date.now(), actor: cliActor(), maxRows: LIMITS.maxExportRows, maxSpanMs: LIMITS.maxSpanMs });
    await writeFile(flags.output, archive.tar);
    const summary = { output: flags.output, bytes: archive.tar.length, files: archive.manifest.files, rows: archive.manifest.queries.reduce((s, q) => s + q.rows, 0) };
    if (flags.json) out(`${JSON.stringify(summary)}\n`);
    else {
      out(`wrote ${flags.output} (${summary.bytes} bytes): ${summary.rows} rows\n`);
      out(formatTable(archive.manifest.files.map((f) => ({ file: f.name, bytes: f.bytes, sha256: f.sha256 })), 100));
    }
    return EXIT.OK;
  });
}
