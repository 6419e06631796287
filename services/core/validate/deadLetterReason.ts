/**
 * The category of a dead letter's reason: a small closed set, for the `reason` label of
 * `tilewatch_dead_letters_total` and the replay summary. Reasons are texts that may carry values
 * from the input (an event time, a status, a size, the store's message); the category never does, so
 * a metric labelled by it has at most {@link DEAD_LETTER_CATEGORIES}.length series per topic whatever
 * arrives. Each reason producer's texts (log-format parsers, input limits, message decoding, the
 * bisecting insert) has a row below; a text no row knows is `other` (test/unit/validate/deadLetterReason.test.ts
 * runs every producer and fails on `other`).
 */
export const DEAD_LETTER_CATEGORIES = [
  'empty',
  'too_long',
  'not_utf8',
  'format_mismatch',
  'invalid_json',
  'missing_field',
  'invalid_ip',
  'invalid_time',
  'invalid_request',
  'invalid_status',
  'invalid_size',
  'invalid_request_time',
  'event_time_out_of_range',
  'event_time_skew',
  'tile_address_out_of_range',
  'store_rejected',
  'other',
] as const;

export type DeadLetterCategory = (typeof DEAD_LETTER_CATEGORIES)[number];

/** Rows are tried in order; patterns are anchored at the start of the reason. */
const RULES: ReadonlyArray<readonly [RegExp, DeadLetterCategory]> = [
  [/^(?:empty line|empty message(?: field)?)$/, 'empty'],
  [/^(?:line too long|message larger than \d+ bytes)$/, 'too_long'],
  [/^not UTF-8$/, 'not_utf8'],
  [/^format mismatch\b/, 'format_mismatch'],
  [/^(?:invalid json|not a json object|JSON message is not an object)$/, 'invalid_json'],
  [/^missing (?:time|ip|request)$/, 'missing_field'],
  [/^invalid (?:ip|x-forwarded-for)$/, 'invalid_ip'],
  [/^(?:invalid time|event time is not a number)$/, 'invalid_time'],
  [/^invalid request$/, 'invalid_request'],
  [/^(?:invalid status|status \S+ is not an HTTP status)$/, 'invalid_status'],
  [/^(?:invalid bytes|size \S+ (?:is negative or not a number|exceeds \d+ bytes \(limits\.maxBytes\)))$/, 'invalid_size'],
  [/^invalid request_time$/, 'invalid_request_time'],
  [/^event time \S+ is (?:before \S+ \(limits\.earliestEventMs\)|more than .+ ahead of the clock \(limits\.maxAheadMs\))$/, 'event_time_out_of_range'],
  [/^event time \S+ is more than .+ from the median of the stream's recent lines .*\(.*limits\.maxSkewMs\)$/, 'event_time_skew'],
  [/^tile address out of range\b/, 'tile_address_out_of_range'],
  [/^rejected by the store\b/, 'store_rejected'],
];

/** The category of a dead letter's reason text (`other` for a text no producer writes). */
export function deadLetterCategory(reason: string): DeadLetterCategory {
  // Reasons come from code, but a store's message is bounded before it is matched all the same.
  const text = reason.length > 400 ? reason.slice(0, 400) : reason;
  for (const [re, category] of RULES) if (re.test(text)) return category;
  return 'other';
}

/**
 * Dead letters counted by category, as they are written (one per dead-letter row), handed over with
 * the batch they belong to and counted in the metric once it is stored.
 */
export class DeadLetterTally {
  private counts = new Map<DeadLetterCategory, number>();
  // Parser reasons are a few constant strings: their category is looked up once.
  private readonly known = new Map<string, DeadLetterCategory>();

  /** One dead letter with this reason. */
  add(reason: string): void {
    let category = this.known.get(reason);
    if (category === undefined) {
      category = deadLetterCategory(reason);
      if (this.known.size < 256) this.known.set(reason, category);
    }
    this.addCategory(category, 1);
  }

  addCategory(category: DeadLetterCategory, n: number): void {
    if (n > 0) this.counts.set(category, (this.counts.get(category) ?? 0) + n);
  }

  get total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  /** The counts so far, and a fresh start. */
  take(): ReadonlyMap<DeadLetterCategory, number> {
    const out = this.counts;
    this.counts = new Map();
    return out;
  }

  /** The counts so far, as a plain object in category order (summaries, JSON). */
  snapshot(): Partial<Record<DeadLetterCategory, number>> {
    const out: Partial<Record<DeadLetterCategory, number>> = {};
    for (const c of DEAD_LETTER_CATEGORIES) {
      const n = this.counts.get(c);
      if (n) out[c] = n;
    }
    return out;
  }
}
