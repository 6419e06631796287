/**
 * Recognition options: the JSON-friendly configuration (`RecogniseConfig`) and its compiled,
 * immutable form (`RecogniseOptions`) that `recognise` takes on the hot path.
 * Compile once at start-up; never per request.
 */

/** Protocols a custom pattern may follow (its captures use that protocol's numbering). */
export type PatternProtocol = 'dzi' | 'zoomify' | 'xyz' | 'tms';

/**
 * A site-specific URL layout, e.g. `^/img/(?<image>[^/]+)/z(?<level>\d+)/(?<col>\d+)-(?<row>\d+)\.jpg$`.
 * Matched against the path (query and fragment stripped, not decoded).
 * Tile patterns need named groups `image`, `level`, `col`, `row`; info patterns (`kind: 'info'`) need `image`.
 * For 'tms', `row` is counted from the bottom and converted to XYZ numbering.
 */
export interface CustomPattern {
  /** Label for diagnostics. */
  readonly name: string;
  /** RegExp source. */
  readonly pattern: string;
  /** RegExp flags; only i, s, u, m are accepted (stateful g/y are rejected). */
  readonly flags?: string;
  readonly protocol: PatternProtocol;
  /** 'tile' (default) or 'info' for a descriptor URL. */
  readonly kind?: 'tile' | 'info';
}

/** Raw recognition configuration (e.g. from a config file). All fields optional. */
export interface RecogniseConfig {
  /** IIIF version assumed when the URL does not tell (see `recognise`). Default 'iiif2'. */
  readonly iiifVersion?: 'iiif2' | 'iiif3';
  /** Whole-image requests whose requested long edge is ≤ this are 'thumbnail' (else 'full'). Default 400. */
  readonly thumbnailMaxEdge?: number;
  /** Region requests whose output long edge is known and ≤ this are 'tile' (else 'region'). Default 1024. */
  readonly tileMaxEdge?: number;
  /** Site-specific layouts, tried in order before the built-in grammars. */
  readonly patterns?: readonly CustomPattern[];
}

/** A compiled custom pattern. */
export interface CompiledPattern {
  readonly name: string;
  readonly re: RegExp;
  readonly protocol: PatternProtocol;
  readonly kind: 'tile' | 'info';
}

/** Compiled, frozen recognition options. Build with `compileOptions`. */
export interface RecogniseOptions {
  readonly iiifVersion: 'iiif2' | 'iiif3';
  readonly thumbnailMaxEdge: number;
  readonly tileMaxEdge: number;
  readonly patterns: readonly CompiledPattern[];
}

const ALLOWED_FLAGS = /^[imsu]*$/;

/**
 * Validate and compile a configuration. Throws `Error` with a descriptive message on a bad
 * pattern or value (this is configuration time; `recognise` itself never throws).
 */
export function compileOptions(config: RecogniseConfig = {}): RecogniseOptions {
  const iiifVersion = config.iiifVersion ?? 'iiif2';
  if ((iiifVersion as string) !== 'iiif2' && (iiifVersion as string) !== 'iiif3') throw new Error(`iiifVersion must be 'iiif2' or 'iiif3', got ${String(iiifVersion)}`);
  const thumbnailMaxEdge = positive('thumbnailMaxEdge', config.thumbnailMaxEdge ?? 400);
  const tileMaxEdge = positive('tileMaxEdge', config.tileMaxEdge ?? 1024);
  const patterns = (config.patterns ?? []).map((p, i) => compilePattern(p, i));
  return Object.freeze({ iiifVersion, thumbnailMaxEdge, tileMaxEdge, patterns: Object.freeze(patterns) });
}

function positive(name: string, v: number): number {
  if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new Error(`${name} must be a positive number, got ${String(v)}`);
  return v;
}

function compilePattern(p: CustomPattern, index: number): CompiledPattern {
  const label = `patterns[${index}] (${p.name})`;
  const flags = p.flags ?? '';
  if (!ALLOWED_FLAGS.test(flags)) throw new Error(`${label}: flags '${flags}' not allowed (only i, m, s, u)`);
  if (!['dzi', 'zoomify', 'xyz', 'tms'].includes(p.protocol)) throw new Error(`${label}: protocol must be dzi, zoomify, xyz or tms`);
  const kind = p.kind ?? 'tile';
  if ((kind as string) !== 'tile' && (kind as string) !== 'info') throw new Error(`${label}: kind must be 'tile' or 'info'`);
  let re: RegExp;
  try {
    re = new RegExp(p.pattern, flags);
  } catch (e) {
    throw new Error(`${label}: invalid RegExp: ${(e as Error).message}`, { cause: e });
  }
  const needed = kind === 'tile' ? ['image', 'level', 'col', 'row'] : ['image'];
  for (const g of needed) {
    if (!p.pattern.includes(`(?<${g}>`)) throw new Error(`${label}: missing named group '${g}'`);
  }
  return Object.freeze({ name: p.name, re, protocol: p.protocol, kind });
}

/** Options with all defaults and no custom patterns. */
export const DEFAULT_RECOGNISE_OPTIONS: RecogniseOptions = compileOptions();
