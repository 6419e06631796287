import type { LineParser } from './lineParser.ts';

/** How well a parser fits the first lines of a log. */
export interface FormatFit {
  /** Non-blank lines tried. */
  readonly sampled: number;
  readonly failed: number;
  /** The first line that did not parse: its index in the sample, the text and the parser's reason. */
  readonly first?: { readonly index: number; readonly line: string; readonly reason: string };
}

/** Tries `parse` on the first `max` non-blank lines (pure). */
export function formatFit(parse: LineParser, lines: readonly string[], max = 2000): FormatFit {
  let sampled = 0;
  let failed = 0;
  let first: FormatFit['first'];
  for (let i = 0; i < lines.length && sampled < max; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    sampled++;
    const r = parse(line);
    if (!r.ok) {
      failed++;
      first ??= { index: i, line, reason: r.reason };
    }
  }
  return first ? { sampled, failed, first } : { sampled, failed };
}

/** Below this many sampled lines a misfit is not judged (a short file of mostly bad lines is just dead letters). */
export const MIN_FIT_SAMPLE = 20;

/** Whether most of the sample failed: the format does not describe this log. */
export function isMisfit(fit: FormatFit): boolean {
  return fit.sampled >= MIN_FIT_SAMPLE && fit.failed * 2 > fit.sampled;
}
