/**
 * Dead-letter reasons → their category (services/core/validate/deadLetterReason.ts), the `reason`
 * label of tilewatch_dead_letters_total: every text a producer writes has its category (none is
 * `other`), values in the text never reach the category, and hostile input cannot add label values.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createParser } from '../../../services/core/logformat/createParser.ts';
import { DEFAULT_RECOGNISE_OPTIONS } from '../../../services/core/protocols/options.ts';
import { DEAD_LETTER_CATEGORIES, DeadLetterTally, deadLetterCategory, type DeadLetterCategory } from '../../../services/core/validate/deadLetterReason.ts';
import { checkStatusAndSize, checkTileAddress, createEventTimeGuard, DEFAULT_INPUT_LIMITS, SKEW_SAMPLE } from '../../../services/core/validate/inputLimits.ts';
import { emptyCatalog } from '../../../services/ingest/catalog.ts';
import { decodeMessage } from '../../../services/ingest/kafka/decodeMessage.ts';
import { createNormalizer } from '../../../services/ingest/normalizer.ts';
import { hostileLine } from '../../support/fuzzLines.ts';
import { REPO_ROOT } from '../../support/cli.ts';

const NOW = Date.UTC(2026, 2, 3);
const DAY = 86_400_000;

/** Every string-literal reason in the files that write dead-letter reasons. */
function literalReasons(): string[] {
  const files = [
    ...readdirSync(join(REPO_ROOT, 'services', 'core', 'logformat')).map((f) => join('services', 'core', 'logformat', f)),
    ...readdirSync(join(REPO_ROOT, 'services', 'core', 'validate')).map((f) => join('services', 'core', 'validate', f)),
    join('services', 'ingest', 'normalizer.ts'),
    join('services', 'ingest', 'kafka', 'decodeMessage.ts'),
  ].filter((f) => f.endsWith('.ts') && !f.endsWith('deadLetterReason.ts'));
  const out = new Set<string>();
  for (const f of files) {
    const text = readFileSync(join(REPO_ROOT, f), 'utf8');
    for (const m of text.matchAll(/(?:\bfail\(|\breason: )'([^']+)'/g)) out.add(m[1]!);
  }
  return [...out];
}

describe('dead-letter categories', () => {
  it('every literal reason a parser, the normalizer or message decoding writes has a category', () => {
    const reasons = literalReasons();
    assert.ok(reasons.length >= 20, `found the producers' reasons (${reasons.length})`);
    for (const r of reasons) assert.notEqual(deadLetterCategory(r), 'other', `"${r}" has no category`);
    assert.equal(deadLetterCategory('empty line'), 'empty');
    assert.equal(deadLetterCategory('invalid x-forwarded-for'), 'invalid_ip');
    assert.equal(deadLetterCategory('not a json object'), 'invalid_json');
    assert.equal(deadLetterCategory('missing request'), 'missing_field');
  });

  it('reasons with values in them: input limits, message decoding, a custom format, the store', () => {
    const guard = createEventTimeGuard(DEFAULT_INPUT_LIMITS, () => NOW);
    const reasonOf = (r: string | null): string => {
      assert.ok(r !== null);
      return r;
    };
    assert.equal(deadLetterCategory(reasonOf(guard.check(Number.NaN))), 'invalid_time');
    assert.equal(deadLetterCategory(reasonOf(guard.check(Date.UTC(1999, 0, 1)))), 'event_time_out_of_range');
    assert.equal(deadLetterCategory(reasonOf(guard.check(NOW + 3 * DAY))), 'event_time_out_of_range');
    for (let i = 0; i < SKEW_SAMPLE; i++) guard.check(NOW - DAY + i * 1000);
    assert.equal(deadLetterCategory(reasonOf(guard.check(NOW - 200 * DAY))), 'event_time_skew');
    assert.equal(deadLetterCategory(reasonOf(checkStatusAndSize(1000, 1, DEFAULT_INPUT_LIMITS))), 'invalid_status');
    assert.equal(deadLetterCategory(reasonOf(checkStatusAndSize(200, -1, DEFAULT_INPUT_LIMITS))), 'invalid_size');
    assert.equal(deadLetterCategory(reasonOf(checkStatusAndSize(200, 2 ** 41, DEFAULT_INPUT_LIMITS))), 'invalid_size');
    assert.equal(deadLetterCategory(reasonOf(checkTileAddress({ level: 99_999, col: 1, row: 1 }))), 'tile_address_out_of_range');
    const oversize = decodeMessage(Buffer.alloc(2048, 0x61), 1024);
    assert.ok(!oversize.ok);
    assert.equal(deadLetterCategory(oversize.reason), 'too_long');
    const custom = createParser({ format: '$remote_addr [$time_local] "$request" $status $body_bytes_sent' }).parse('203.0.113.5 nonsense');
    assert.ok(!custom.ok);
    assert.match(custom.reason, /^format mismatch/);
    assert.equal(deadLetterCategory(custom.reason), 'format_mismatch');
    assert.equal(deadLetterCategory('rejected by the store: Code: 53. DB::Exception: Type mismatch in "x" 12345'), 'store_rejected');
  });

  it('hostile lines through the real parser and normalizer: a handful of categories, none unknown', () => {
    const normalizer = createNormalizer({ parse: createParser({ format: 'combined' }).parse, recognise: DEFAULT_RECOGNISE_OPTIONS, catalog: emptyCatalog(), now: () => NOW });
    const seen = new Map<DeadLetterCategory, number>();
    const reasons = new Set<string>();
    for (const l of fc.sample(hostileLine(NOW - 10 * DAY, 10 * DAY), { numRuns: 20_000, seed: 17 })) {
      const n = normalizer.normalize(l.text);
      if (n.ok) continue;
      reasons.add(n.reason);
      const c = deadLetterCategory(n.reason);
      seen.set(c, (seen.get(c) ?? 0) + 1);
    }
    assert.ok(reasons.size > 20, `the input makes many distinct reason texts (${reasons.size})`);
    assert.ok(seen.size >= 4 && seen.size <= DEAD_LETTER_CATEGORIES.length, `categories: ${[...seen.keys()].join(', ')}`);
    assert.equal(seen.get('other'), undefined, 'every reason the pipeline writes has its category');
  });

  it('any text, however hostile, maps into the closed set; values inside a known text do not change its category', () => {
    const set = new Set<string>(DEAD_LETTER_CATEGORIES);
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), (s) => set.has(deadLetterCategory(s))), { numRuns: 2000 });
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer(), (v, n) => {
        assert.equal(deadLetterCategory(`rejected by the store: ${v} "${v}" ${n}`), 'store_rejected');
        assert.equal(deadLetterCategory(`status ${n} is not an HTTP status`), 'invalid_status');
        assert.equal(deadLetterCategory(`message larger than ${Math.abs(n)} bytes`), 'too_long');
      }),
      { numRuns: 500 },
    );
  });

  it('DeadLetterTally counts by category, hands the counts over and starts afresh; its look-up cache stays bounded', () => {
    const t = new DeadLetterTally();
    t.add('invalid ip');
    t.add('invalid x-forwarded-for');
    t.add('empty line');
    t.addCategory('store_rejected', 2);
    t.addCategory('other', 0);
    assert.equal(t.total, 5);
    assert.deepEqual(t.snapshot(), { empty: 1, invalid_ip: 2, store_rejected: 2 });
    assert.deepEqual([...t.take()].sort(), [['empty', 1], ['invalid_ip', 2], ['store_rejected', 2]]);
    assert.equal(t.total, 0);
    for (let i = 0; i < 10_000; i++) t.add(`size ${i} exceeds 10 bytes (limits.maxBytes)`);
    assert.deepEqual(t.snapshot(), { invalid_size: 10_000 });
    assert.ok((t as unknown as { known: Map<string, string> }).known.size <= 256);
  });
});
