import { compileNginxFormat } from './compileNginxFormat.ts';
import { createJsonParser, JSON_FIELD_ALIASES } from './createJsonParser.ts';
import type { LineParser } from './lineParser.ts';
import { PRESET_FORMATS } from './presetFormats.ts';

/** How many non-blank sample lines detection looks at (the line reader's first chunk holds at least this many). */
export const DETECT_SAMPLE_SIZE = 2000;

/**
 * A richer layout is chosen while it parses at least as many sample lines as the best one minus
 * this share of the sample (and at least {@link DETECT_SLACK_LINES}): one line cut short, or a few
 * odd lines, must not demote a whole run to a layout with fewer fields.
 */
export const DETECT_SLACK_SHARE = 0.01;
/** Lower bound of the slack, in lines (see {@link DETECT_SLACK_SHARE}). */
export const DETECT_SLACK_LINES = 2;
/** Above this share of sample lines the chosen layout does not parse, detection warns. */
export const DETECT_UNPARSED_WARN_SHARE = 0.05;

/** The layouts detection chooses between. */
export type DetectableFormat = 'json' | 'combined_xff' | 'combined' | 'common';

/** Result of {@link detectFormat}. */
export interface DetectedFormat {
  /** A name `createParser` accepts. */
  readonly name: DetectableFormat;
  /** 0..1: sample lines the chosen layout parses / non-blank sample lines (0 when the sample is empty). */
  readonly confidence: number;
  /** Non-blank lines in the sample (at most {@link DETECT_SAMPLE_SIZE}). */
  readonly sampleLines: number;
  /** Sample lines each layout parses (for json: records the JSON parser accepts; the vote counts JSON objects). */
  readonly parsed: Readonly<Record<DetectableFormat, number>>;
  /**
   * What the run loses with this choice, as sentences for a person: the layout has no user agent or
   * no Referer (the detector uses both), a sizeable share of the sample does not parse, or nothing
   * does. Empty when nothing is lost.
   */
  readonly warnings: readonly string[];
}

/** Richest first: where two layouts parse about as many lines, the one with more fields wins. */
const TEXT_FORMATS = ['combined_xff', 'combined', 'common'] as const;

/**
 * Guesses the log layout by a vote over sample lines (the first {@link DETECT_SAMPLE_SIZE}
 * non-blank ones): every candidate parses the whole sample, and
 *
 * - `json` wins when at least as many lines are JSON objects as any text layout parses;
 * - otherwise the richest text layout (`combined_xff` > `combined` > `common`) that parses at least
 *   as many lines as the best one minus the slack ({@link DETECT_SLACK_SHARE}, at least
 *   {@link DETECT_SLACK_LINES}), and more than half as many (so the slack never lets a layout
 *   that parses almost nothing of a tiny sample win). `combined` also covers combined with
 *   arbitrary extra fields, and `common` parses any combined line too, so one line cut after its
 *   bytes field must not win.
 *
 * With no non-blank lines answers `combined`, confidence 0 and no warning (nothing is lost); when
 * nothing parses and no line is a JSON object, `combined` with confidence 0 and a warning.
 * `options` are the parser options of the run (a line-length limit changes what parses).
 * Pure; never throws for any sample.
 */
export function detectFormat(sampleLines: readonly string[], options: { readonly maxLineLength?: number } = {}): DetectedFormat {
  const lines: string[] = [];
  for (const l of sampleLines) {
    if (l.trim() !== '') lines.push(l);
    if (lines.length >= DETECT_SAMPLE_SIZE) break;
  }
  const n = lines.length;
  const limits = options.maxLineLength !== undefined ? { maxLineLength: options.maxLineLength } : {};
  const parsers: Readonly<Record<DetectableFormat, LineParser>> = {
    json: createJsonParser(limits),
    combined_xff: compileNginxFormat(PRESET_FORMATS.combined_xff.format, { ...limits, strictForwardedFor: true, allowTrailingFields: true }),
    combined: compileNginxFormat(PRESET_FORMATS.combined.format, { ...limits, allowTrailingFields: true }),
    common: compileNginxFormat(PRESET_FORMATS.common.format, { ...limits, allowTrailingFields: true }),
  };
  const parsed: Record<DetectableFormat, number> = { json: 0, combined_xff: 0, combined: 0, common: 0 };
  const objects: Array<Record<string, unknown>> = [];
  for (const l of lines) {
    for (const name of Object.keys(parsed) as DetectableFormat[]) if (parsers[name](l).ok) parsed[name]++;
    const o = jsonObject(l);
    if (o !== null) objects.push(o);
  }
  if (n === 0) return { name: 'combined', confidence: 0, sampleLines: 0, parsed, warnings: [] };

  // JSON votes by JSON objects, not by records the parser accepts: a JSON log with unknown field
  // names is still JSON, and its dead letters then say which field is missing.
  const bestText = Math.max(...TEXT_FORMATS.map((f) => parsed[f]));
  if (bestText === 0 && objects.length === 0) {
    return {
      name: 'combined',
      confidence: 0,
      sampleLines: n,
      parsed,
      warnings: [`none of the ${n} sample lines parses as json, combined_xff, combined or common: every line goes to dead_letters (pass --format with the log's layout)`],
    };
  }
  let name: DetectableFormat;
  if (objects.length >= bestText) {
    name = 'json';
  } else {
    const slack = Math.max(DETECT_SLACK_LINES, Math.ceil(n * DETECT_SLACK_SHARE));
    name = TEXT_FORMATS.find((f) => parsed[f] >= bestText - slack && parsed[f] * 2 > bestText) ?? 'combined';
  }

  const warnings: string[] = [];
  const missing = name === 'json' ? missingJsonFields(objects) : name === 'common' ? ['user agent', 'Referer'] : [];
  if (missing.length > 0) {
    const richer = name === 'common' && parsed.combined > 0 ? `; ${parsed.combined} of the ${n} sample lines parse as combined` : '';
    warnings.push(
      `the detected format ${name} has no ${missing.join(' and no ')}: no stored request carries ${missing.length > 1 ? 'them' : 'it'}, ` +
        `and the detector's ${missing.join(' and ')} signals see nothing${richer} (pass --format to choose the layout)`,
    );
  }
  const unparsed = n - parsed[name];
  if (unparsed / n > DETECT_UNPARSED_WARN_SHARE) {
    warnings.push(`${unparsed} of the ${n} sample lines (${((unparsed / n) * 100).toFixed(1)} %) do not parse as ${name}: such lines go to dead_letters`);
  }
  return { name, confidence: parsed[name] / n, sampleLines: n, parsed, warnings };
}

/** The line as a JSON object, or null. */
function jsonObject(line: string): Record<string, unknown> | null {
  const t = line.trimStart();
  if (t.charCodeAt(0) !== 123 /* { */) return null;
  try {
    const v: unknown = JSON.parse(t);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Fields no sampled JSON object names under any of its aliases. */
function missingJsonFields(objects: ReadonlyArray<Record<string, unknown>>): string[] {
  const names = (aliases: readonly string[]): boolean => objects.some((o) => aliases.some((k) => o[k] !== undefined && o[k] !== null));
  return [...(names(JSON_FIELD_ALIASES.userAgent) ? [] : ['user agent']), ...(names(JSON_FIELD_ALIASES.referer) ? [] : ['Referer'])];
}
