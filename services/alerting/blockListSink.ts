import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Alert } from '../core/alert.ts';
import { parseCidr } from '../core/logformat/cidr.ts';
import { writeFileAtomic } from './atomicWrite.ts';
import {
  applyAlert,
  BLOCK_SEVERITIES,
  parseNginxGeo,
  pruneExpired,
  renderCidrList,
  renderNginxGeo,
  type BlockEntry,
  type BlockPolicy,
  type BlockSeverity,
  type BlockState,
} from './blockList.ts';
import type { Clock as SinkClock } from '../core/clock.ts';
import { noticeOf } from './incidentNotice.ts';
import type { AlertSink } from './sink.ts';

export interface BlockListSinkOptions {
  /** Default 'blocklist'. */
  readonly name?: string;
  /** nginx `geo` include file. */
  readonly geoFile: string;
  /** Plain list, one CIDR per line; optional. */
  readonly cidrFile?: string;
  /** nginx variable set to 1 for blocked clients. Default 'tilewatch_blocked'. */
  readonly variable?: string;
  /** Incident severity at which its addresses are blocked: 'high' or 'critical' (never lower). Default 'high'. */
  readonly minSeverity?: BlockSeverity;
  /** Default 24 h. */
  readonly ttlMs?: number;
  /** Never blocked (CIDR texts): the configured allow-list. */
  readonly allowCidrs: readonly string[];
  /** Default 50,000. */
  readonly maxEntries?: number;
  /**
   * Rewrites the files this often to drop expired entries when no alert arrives. 0 = never (call
   * `sweep()` yourself). Default 60,000 ms.
   */
  readonly sweepIntervalMs?: number;
  readonly clock: SinkClock;
  readonly logger: Logger;
}

export interface BlockListSink extends AlertSink {
  /** Drops expired entries and rewrites the files if anything expired. Resolves true if it wrote. */
  sweep(): Promise<boolean>;
  /** The entries held now (after the last decision). */
  entries(): readonly BlockEntry[];
}

const signature = (s: BlockState): string =>
  [...s.values()]
    .map((e) => `${e.cidr} ${e.expiresAt} ${e.alertId} ${e.incidentId ?? ''}`)
    .sort()
    .join('\n');

/**
 * Opt-in enforcement output: an nginx `geo` include file and a plain CIDR list of clients to
 * block, each entry with a TTL, written atomically, never containing allow-listed networks, only
 * for notices of open incidents at or above `minSeverity` — high at the least, a confirmed harvest
 * (blockList.ts `applyAlert`). State is restored from the geo file at the first decision,
 * so a restart keeps the blocks and their expiry. Reloading nginx is left to the operator (e.g. a
 * systemd path unit running `nginx -s reload` when the file changes).
 */
export function createBlockListSink(opts: BlockListSinkOptions): BlockListSink {
  const variable = opts.variable ?? 'tilewatch_blocked';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) throw new Error(`block list: invalid nginx variable name "${variable}"`);
  if (opts.minSeverity !== undefined && !BLOCK_SEVERITIES.includes(opts.minSeverity))
    throw new Error(`block list: minSeverity must be ${BLOCK_SEVERITIES.join(' or ')} (low and medium incidents are never blocked), got "${String(opts.minSeverity)}"`);
  const policy: BlockPolicy = {
    minSeverity: opts.minSeverity ?? 'high',
    ttlMs: opts.ttlMs ?? 24 * 3600 * 1000,
    allow: opts.allowCidrs.map((c) => parseCidr(c)),
    maxEntries: opts.maxEntries ?? 50_000,
  };
  const log = opts.logger.child({ component: 'sink', sink: opts.name ?? 'blocklist' });
  let state: BlockState | null = null;
  // One decision at a time: deliveries and sweeps are serialised through this chain.
  let chain: Promise<unknown> = Promise.resolve();
  const stop = new AbortController();

  const load = async (): Promise<BlockState> => {
    if (state) return state;
    try {
      state = parseNginxGeo(await readFile(opts.geoFile, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      state = new Map();
    }
    return state;
  };

  const write = async (next: BlockState, now: number): Promise<void> => {
    await writeFileAtomic(opts.geoFile, renderNginxGeo(next, variable, now));
    if (opts.cidrFile) await writeFileAtomic(opts.cidrFile, renderCidrList(next));
    state = next;
  };

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => {});
    return run;
  };

  const decide = (alert: Alert): Promise<void> =>
    serial(async () => {
      const before = await load();
      const now = opts.clock.now();
      const { state: next, added, skipped } = applyAlert(before, alert, now, policy);
      const incident = noticeOf(alert);
      if (skipped.length > 0) log.info({ incident: { id: incident.id }, alert: { id: alert.id }, skipped }, 'addresses not blocked (allow-listed or not an address)');
      if (signature(next) === signature(before) && before.size === next.size) return;
      await write(next, now);
      if (added.length > 0) log.warn({ incident: { id: incident.id, severity: incident.severity, notice: incident.notice }, alert: { id: alert.id, severity: alert.severity }, added, entries: next.size }, 'clients blocked');
    });

  const sweep = (): Promise<boolean> =>
    serial(async () => {
      const before = await load();
      const now = opts.clock.now();
      const next = pruneExpired(before, now);
      if (next.size === before.size) return false;
      await write(next, now);
      log.info({ expired: before.size - next.size, entries: next.size }, 'expired blocks dropped');
      return true;
    });

  const interval = opts.sweepIntervalMs ?? 60_000;
  if (interval > 0) {
    void (async () => {
      for (;;) {
        try {
          await opts.clock.sleep(interval, stop.signal, true);
        } catch {
          return;
        }
        await sweep().catch((err: unknown) => log.error({ err }, 'block list sweep failed'));
      }
    })();
  }

  return {
    name: opts.name ?? 'blocklist',
    // Every version of an urgent incident: members a campaign names later are blocked, blocks renewed.
    everyVersion: true,
    deliver: decide,
    sweep,
    entries: () => [...(state ?? new Map<string, BlockEntry>()).values()],
    async close() {
      stop.abort();
      await chain;
    },
  };
}
