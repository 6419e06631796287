import type { DetectorEvent, RefererKind } from '../core/detect/clientState.ts';
import type { LineParser } from '../core/logformat/lineParser.ts';
import { ownString } from '../core/ownString.ts';
import { resolve } from '../core/protocols/geometry.ts';
import { LearnedExtents } from '../core/protocols/learnedExtents.ts';
import type { RecogniseOptions } from '../core/protocols/options.ts';
import { recognise } from '../core/protocols/recognise.ts';
import { checkStatusAndSize, checkTileAddress, storableGeometry, createEventTimeGuard, DEFAULT_INPUT_LIMITS, type InputLimits } from '../core/validate/inputLimits.ts';
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
  /** A new input begins (another file may cover another period): the event-time median starts afresh. */
  newSource(): void;
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
  /** Ranges a stored request must fit (event-time window, status, size). Default DEFAULT_INPUT_LIMITS. */
  readonly limits?: InputLimits;
  /** Wall clock, for the "not ahead of now" bound only. Default Date.now. */
  readonly now?: () => number;
}

/**
 * The per-line hot path shared by replay, ingest and the tests: parse → range checks (event time,
 * status, size) → recognise → learn extents (2xx only) → resolve geometry → range check of the
 * tile address → geometry the columns can hold (else none) → classify the Referer. A value out of range is a dead letter, so the store never
 * sees one it would reject. Holds the learned extents and the event-time sample.
 */
export function createNormalizer(opts: NormalizerOptions): Normalizer {
  const maxImages = opts.maxLearnedImages ?? 1_000_000;
  const learned = new LearnedExtents({ maxImages });
  /** Images whose extents were learned, in the order first seen (bounded), and the same by protocol → image id. */
  const learnedKeys: Array<{ protocol: Protocol; imageId: string }> = [];
  const learnedIds = new Map<Protocol, Set<string>>();
  const refererKind = createRefererClassifier(opts.recognise);
  const limits = opts.limits ?? DEFAULT_INPUT_LIMITS;
  const timeGuard = createEventTimeGuard(limits, opts.now ?? Date.now);
  const catalog = opts.catalog;
  // An empty catalogue (the common case: extents are learned) is not asked at all.
  const inCatalog = catalog.size > 0 ? (protocol: Protocol, imageId: string) => catalog.get(protocol, imageId) : () => undefined;
  // The last answer, reused while it is asked again for the same image and the learned extents have not
  // changed (the catalogue does not change): the detector asks for the image the line just normalised did.
  let lastProtocol: Protocol | '' = '';
  let lastImageId = '';
  let lastVersion = -1;
  let lastGeometry: ImageGeometry | undefined;
  const geometryOf = (protocol: Protocol, imageId: string): ImageGeometry | undefined => {
    if (learned.version === lastVersion && protocol === lastProtocol && imageId === lastImageId) return lastGeometry;
    const g = inCatalog(protocol, imageId)?.geometry ?? learned.geometry(protocol, imageId);
    lastProtocol = protocol;
    lastImageId = imageId;
    lastVersion = learned.version;
    lastGeometry = g;
    return g;
  };
  const normalizeRecord = (rec: AccessRecord): Normalized => {
    const invalid = checkStatusAndSize(rec.status, rec.bytes, limits) ?? timeGuard.check(rec.ts);
    if (invalid !== null) return { ok: false, reason: invalid };
    const addr = recognise(rec.target, opts.recognise);
    const badAddress = checkTileAddress(addr);
    if (badAddress !== null) return { ok: false, reason: badAddress };
    if (addr.imageId !== '' && rec.status >= 200 && rec.status < 300 && !inCatalog(addr.protocol, addr.imageId)) {
      learned.observe(addr);
      let ids = learnedIds.get(addr.protocol);
      if (ids === undefined) {
        ids = new Set();
        learnedIds.set(addr.protocol, ids);
      }
      if (learnedKeys.length < maxImages && !ids.has(addr.imageId)) {
        const imageId = ownString(addr.imageId);
        ids.add(imageId);
        learnedKeys.push({ protocol: addr.protocol, imageId });
      }
    }
    const request = storableGeometry(resolve(addr, addr.imageId !== '' ? geometryOf(addr.protocol, addr.imageId) : undefined));
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
    newSource: () => timeGuard.reset(),
    learnedImages() {
      const out: Array<{ protocol: Protocol; imageId: string; geometry: ImageGeometry }> = [];
      for (const { protocol, imageId } of learnedKeys) {
        const geometry = learned.geometry(protocol, imageId);
        if (geometry) out.push({ protocol, imageId, geometry });
      }
      return out;
    },
  };
}
