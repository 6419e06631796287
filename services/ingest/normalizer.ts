import type { DetectorEvent, RefererKind } from '../core/detect/clientState.ts';
import type { LineParser } from '../core/logformat/lineParser.ts';
import { ownString } from '../core/ownString.ts';
import { resolve } from '../core/protocols/geometry.ts';
import { LearnedExtents } from '../core/protocols/learnedExtents.ts';
import type { RecogniseOptions } from '../core/protocols/options.ts';
import { recognise } from '../core/protocols/recognise.ts';
import type { AccessRecord, ImageGeometry, Lineage, Protocol, TileRequest } from '../core/types.ts';
import type { Catalog } from './catalog.ts';
import { createRefererClassifier } from './refererClassifier.ts';

/** A parsed and normalised line, or the reason it could not be parsed (a value, never an exception). */
export type Normalized =
  | { readonly ok: true; readonly record: AccessRecord; readonly request: TileRequest; readonly refererKind: RefererKind }
  | { readonly ok: false; readonly reason: string };

/** The detector's view of a normalised line. */
export function detectorEvent(n: Extract<Normalized, { ok: true }>, lineage: Lineage): DetectorEvent {
  const rec = n.record;
  return { ts: rec.ts, ip: rec.ip, userAgent: rec.userAgent, referer: rec.referer, status: rec.status, request: n.request, refererKind: n.refererKind, lineage };
}

export interface Normalizer {
  /** Parses, recognises the tile protocol and resolves geometry (catalogue, else learned extents). */
  normalize(line: string): Normalized;
  /** The same without parsing: a record rebuilt from stored rows (detector restore). */
  normalizeRecord(rec: AccessRecord): Normalized;
  /** Geometry of an image as known now. */
  geometryOf(protocol: Protocol, imageId: string): ImageGeometry | undefined;
  /** Images whose extents were learned (not in the catalogue), for the `images` table. */
  learnedImages(): Array<{ protocol: Protocol; imageId: string; geometry: ImageGeometry }>;
  readonly learnedCount: number;
}

export interface NormalizerOptions {
  readonly parse: LineParser;
  readonly recognise: RecogniseOptions;
  readonly catalog: Catalog;
  /** Bound on images whose extents are learned. Default 1,000,000. */
  readonly maxLearnedImages?: number;
}

/**
 * The per-line hot path shared by replay, ingest and the tests: parse → recognise → learn extents
 * (2xx only) → resolve geometry → classify the Referer. Holds only the learned-extents state.
 */
export function createNormalizer(opts: NormalizerOptions): Normalizer {
  const maxImages = opts.maxLearnedImages ?? 1_000_000;
  const learned = new LearnedExtents({ maxImages });
  const learnedKeys = new Map<string, { protocol: Protocol; imageId: string }>();
  const refererKind = createRefererClassifier(opts.recognise);
  const geometryOf = (protocol: Protocol, imageId: string): ImageGeometry | undefined =>
    opts.catalog.get(protocol, imageId)?.geometry ?? learned.geometry(protocol, imageId);
  const normalizeRecord = (rec: AccessRecord): Normalized => {
    const addr = recognise(rec.target, opts.recognise);
    if (addr.imageId !== '' && rec.status >= 200 && rec.status < 300 && !opts.catalog.get(addr.protocol, addr.imageId)) {
      learned.observe(addr);
      const k = `${addr.protocol}\u0000${addr.imageId}`;
      if (!learnedKeys.has(k) && learnedKeys.size < maxImages) learnedKeys.set(ownString(k), { protocol: addr.protocol, imageId: ownString(addr.imageId) });
    }
    const request = resolve(addr, addr.imageId !== '' ? geometryOf(addr.protocol, addr.imageId) : undefined);
    return { ok: true, record: rec, request, refererKind: refererKind(rec.referer) };
  };
  return {
    geometryOf,
    get learnedCount() {
      return learned.size;
    },
    normalize(line) {
      const res = opts.parse(line);
      return res.ok ? normalizeRecord(res.record) : res;
    },
    normalizeRecord,
    learnedImages() {
      const out: Array<{ protocol: Protocol; imageId: string; geometry: ImageGeometry }> = [];
      for (const { protocol, imageId } of learnedKeys.values()) {
        const geometry = learned.geometry(protocol, imageId);
        if (geometry) out.push({ protocol, imageId, geometry });
      }
      return out;
    },
  };
}
