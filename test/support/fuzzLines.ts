/**
 * Random and adversarial access-log lines (fast-check arbitraries) for the fuzz tests and the
 * garbage benchmark. Each generated line says whether it was built valid: a well-formed nginx
 * `combined` line with in-range values that tilewatch must store, exactly once.
 */
import fc from 'fast-check';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => String(n).padStart(2, '0');

/** nginx `$time_local` of a UTC instant, any year 0–9999 written with four digits. */
export function timeLocalAnyYear(ms: number, year?: number): string {
  const d = new Date(ms);
  const y = String(year ?? d.getUTCFullYear()).padStart(4, '0');
  return `${p2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${y}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;
}

/** nginx's default escaping of `"`, `\` and control bytes in a logged header. */
function nginxEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b === 0x22 || b === 0x5c || b < 0x20 || b === 0x7f ? `\\x${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  // Bytes ≥ 0x80 were appended as latin1 characters: re-encode the UTF-8 sequence as text.
  return Buffer.from(out, 'latin1').toString('utf8');
}

export interface FuzzLine {
  readonly text: string;
  /** Built valid: must be stored. */
  readonly valid: boolean;
}

const tilePath = fc.oneof(
  fc.tuple(fc.stringMatching(/^[a-z0-9_-]{1,12}$/), fc.integer({ min: 0, max: 20 }), fc.nat(300), fc.nat(300)).map(([id, z, x, y]) => `/dz/${id}_files/${z}/${x}_${y}.jpg`),
  fc.tuple(fc.integer({ min: 0, max: 22 }), fc.nat(5000), fc.nat(5000)).map(([z, x, y]) => `/tiles/${z}/${x}/${y}.png`),
  fc.tuple(fc.stringMatching(/^[a-z0-9]{1,10}$/), fc.nat(8000), fc.nat(8000), fc.integer({ min: 1, max: 1024 })).map(([id, x, y, w]) => `/iiif/2/${id}/${x},${y},${w},${w}/${w},/0/default.jpg`),
  fc.stringMatching(/^\/[A-Za-z0-9._~%!$&'()*+,;=:@/-]{0,60}(\?[A-Za-z0-9=&%]{0,20})?$/),
);

const header = fc.oneof(fc.constant('-'), fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => (s === '' ? '-' : nginxEscape(s))));

/** A well-formed `combined` line in [t0, t0 + spanMs). */
export function validLine(t0: number, spanMs: number): fc.Arbitrary<FuzzLine> {
  return fc
    .record({
      ip: fc.oneof(fc.ipV4(), fc.ipV6()),
      ts: fc.integer({ min: t0, max: t0 + spanMs - 1 }),
      method: fc.constantFrom('GET', 'HEAD', 'POST', 'OPTIONS'),
      path: tilePath,
      status: fc.integer({ min: 100, max: 599 }),
      bytes: fc.oneof(fc.nat(5_000_000), fc.constant(0)),
      referer: header,
      ua: header,
    })
    .map((r) => ({
      text: `${r.ip} - - [${timeLocalAnyYear(r.ts)}] "${r.method} ${r.path} HTTP/1.1" ${r.status} ${r.bytes} "${r.referer}" "${r.ua}"`,
      valid: true,
    }));
}

/** A valid line spoiled: a date out of range, an absurd status or size, a cut, an inserted byte. */
function spoiled(t0: number, spanMs: number): fc.Arbitrary<FuzzLine> {
  return fc
    .tuple(
      validLine(t0, spanMs),
      fc.oneof(
        fc.constantFrom(1, 1899, 1900, 1970, 2200, 2300, 9999).map((y) => (l: string) => l.replace(/\[(\d\d\/\w{3}\/)\d{4}/, `[$1${String(y).padStart(4, '0')}`)),
        fc.constantFrom('99999', '-1', '1e3', '00000200').map((st) => (l: string) => l.replace(/" (\d{3}) /, `" ${st} `)),
        fc.constantFrom('-5', '99999999999999999999', 'NaN').map((b) => (l: string) => l.replace(/" (\d{3}) (\d+) "/, `" $1 ${b} "`)),
        fc.nat(400).map((n) => (l: string) => l.slice(0, n)),
        fc.tuple(fc.nat(400), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 })).map(([n, s]) => (l: string) => l.slice(0, n) + s + l.slice(n)),
      ),
    )
    .map(([l, spoil]) => ({ text: spoil(l.text), valid: false }));
}

const garbage: fc.Arbitrary<FuzzLine> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc.json(),
  fc.constantFrom('{', '"', '[', '\\', '\t', '\u0000', '\uFFFD', '\uD800', '"GET / HTTP/1.1"', '- - - [] "" 0 0 "" ""'),
).map((text) => ({ text, valid: false }));

const blank: fc.Arbitrary<FuzzLine> = fc.constantFrom('', ' ', '\t', '   ').map((text) => ({ text, valid: false }));

/** One line of a hostile log: mostly valid, with spoiled lines, garbage and blanks mixed in. */
export function hostileLine(t0: number, spanMs: number): fc.Arbitrary<FuzzLine> {
  return fc.oneof({ arbitrary: validLine(t0, spanMs), weight: 6 }, { arbitrary: spoiled(t0, spanMs), weight: 2 }, { arbitrary: garbage, weight: 1 }, { arbitrary: blank, weight: 1 });
}

/** A line as a log file holds it: no newline inside (a generated `\n` would make two lines). */
export function asFileLine(l: FuzzLine): FuzzLine {
  return l.text.includes('\n') ? { text: l.text.replace(/\n/g, ' '), valid: l.valid } : l;
}

/** `n` hostile lines from `seed`, reproducible. */
export function hostileLog(n: number, seed: number, t0: number, spanMs: number): FuzzLine[] {
  return fc.sample(hostileLine(t0, spanMs), { numRuns: n, seed }).map(asFileLine);
}
