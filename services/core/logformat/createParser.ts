import { compileNginxFormat } from './compileNginxFormat.ts';
import { LogFormatError } from './logFormatError.ts';
import { formatFromPaste } from './pastedFormat.ts';
import { createJsonParser } from './createJsonParser.ts';
import { detectFormat, type DetectedFormat } from './detectFormat.ts';
import type { LineParser } from './lineParser.ts';
import { PRESET_FORMATS, type PresetName } from './presetFormats.ts';

/** What the pipeline configures. */
export interface ParserSpec {
  /**
   * `auto` (default), a preset name (`combined`, `combined_xff`, `common`, `apache`), `json`, an
   * nginx `log_format` string (anything containing `$`), a whole pasted `log_format name '…';`
   * directive, or an Apache `LogFormat` string or directive (pastedFormat.ts).
   */
  readonly format?: string;
  /** Trusted reverse-proxy CIDRs whose X-Forwarded-For is honoured. */
  readonly trustedProxies?: readonly string[];
  /** See `LineParserOptions.maxLineLength`. */
  readonly maxLineLength?: number;
}

/** A ready parser and the name of the layout it parses (`custom` for a log_format string). */
export interface NamedParser {
  readonly name: string;
  readonly parse: LineParser;
  /** How `auto` chose the layout; absent when the format was given. */
  readonly detected?: DetectedFormat;
  /**
   * What the run loses with a detected layout (see {@link DetectedFormat.warnings}), for the
   * operator's eyes before a long run. Always empty for a given format: `--format` wins unchecked.
   */
  readonly warnings: readonly string[];
}

/** Names accepted in {@link ParserSpec.format} besides log_format strings. */
export const FORMAT_NAMES: readonly string[] = ['auto', ...Object.keys(PRESET_FORMATS), 'json'];

function isPreset(name: string): name is PresetName {
  return Object.prototype.hasOwnProperty.call(PRESET_FORMATS, name);
}

/**
 * The single parser factory the pipeline calls.
 *
 * `auto` (or no format) runs {@link detectFormat} over `sampleLines` (give it the first
 * `DETECT_SAMPLE_SIZE` lines or more: the vote is only as good as its sample); with no samples, or
 * when nothing in them parses, it falls back to `combined`. The returned name is the resolved
 * layout (e.g. `json`, `combined`), never `auto`. A given format is used as is, without detection.
 *
 * @throws Error for an unknown format name (listing the valid ones), an invalid log_format string,
 * or an invalid trusted-proxy CIDR.
 */
export function createParser(spec: ParserSpec, sampleLines: readonly string[] = []): NamedParser {
  const options = {
    ...(spec.trustedProxies !== undefined ? { trustedProxies: spec.trustedProxies } : {}),
    ...(spec.maxLineLength !== undefined ? { maxLineLength: spec.maxLineLength } : {}),
  };
  if (options.maxLineLength !== undefined && !(Number.isInteger(options.maxLineLength) && options.maxLineLength > 0)) {
    throw new Error(`invalid maxLineLength ${String(options.maxLineLength)}: expected a positive integer`);
  }
  const format = formatFromPaste(spec.format ?? 'auto');
  let name = format.trim();
  if (name.includes('$')) return { name: 'custom', parse: compileNginxFormat(format, options), warnings: [] };
  name = name.toLowerCase();
  let detected: DetectedFormat | undefined;
  if (name === '' || name === 'auto') {
    detected = detectFormat(sampleLines, options);
    name = detected.name;
  }
  const chosen = detected ? { detected, warnings: detected.warnings } : { warnings: [] };
  if (name === 'json') return { name, parse: createJsonParser(options), ...chosen };
  if (isPreset(name)) {
    const preset = PRESET_FORMATS[name];
    return {
      name,
      parse: compileNginxFormat(preset.format, { ...options, allowTrailingFields: preset.allowTrailingFields }),
      ...chosen,
    };
  }
  throw new LogFormatError(
    `unknown log format ${JSON.stringify(spec.format)}: expected one of ${FORMAT_NAMES.join(', ')}, or an nginx log_format string containing $variables`,
  );
}
