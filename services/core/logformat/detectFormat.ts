import { compileNginxFormat } from './compileNginxFormat.ts';
import type { LineParser } from './lineParser.ts';
import { PRESET_FORMATS } from './presetFormats.ts';

/** How many non-blank sample lines detection looks at. */
export const DETECT_SAMPLE_SIZE = 200;

/** Result of {@link detectFormat}: a name `createParser` accepts, and the fraction of sample lines it parsed. */
export interface DetectedFormat {
  readonly name: string;
  /** 0..1: parsed lines / non-blank sample lines (0 when the sample is empty). */
  readonly confidence: number;
}

/**
 * Guesses the log layout from sample lines (the first {@link DETECT_SAMPLE_SIZE} non-blank ones).
 *
 * - `json` when at least half the lines are JSON objects (confidence = that fraction);
 * - otherwise the preset that parses the most lines, ties going to the more specific one:
 *   `combined_xff` (combined + a trailing X-Forwarded-For field), then `combined` (which also
 *   covers combined with arbitrary extra fields), then `common`.
 *
 * With no non-blank lines, or nothing parsing, answers `combined` with confidence 0.
 * Never throws.
 */
export function detectFormat(sampleLines: readonly string[]): DetectedFormat {
  const lines: string[] = [];
  for (const l of sampleLines) {
    if (l.trim() !== '') lines.push(l);
    if (lines.length >= DETECT_SAMPLE_SIZE) break;
  }
  if (lines.length === 0) return { name: 'combined', confidence: 0 };

  let json = 0;
  for (const l of lines) {
    const t = l.trimStart();
    if (t.charCodeAt(0) !== 123) continue;
    try {
      const v: unknown = JSON.parse(t);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) json++;
    } catch {
      // not JSON
    }
  }
  if (json * 2 >= lines.length) return { name: 'json', confidence: json / lines.length };

  const candidates: ReadonlyArray<readonly [string, LineParser]> = [
    ['combined_xff', compileNginxFormat(PRESET_FORMATS.combined_xff.format, { strictForwardedFor: true, allowTrailingFields: true })],
    ['combined', compileNginxFormat(PRESET_FORMATS.combined.format, { allowTrailingFields: true })],
    ['common', compileNginxFormat(PRESET_FORMATS.common.format, { allowTrailingFields: true })],
  ];
  let best = 'combined';
  let bestCount = 0;
  for (const [name, parse] of candidates) {
    let count = 0;
    for (const l of lines) if (parse(l).ok) count++;
    if (count > bestCount) {
      best = name;
      bestCount = count;
    }
  }
  return { name: best, confidence: bestCount / lines.length };
}
