/** A named, built-in line layout. */
export interface PresetFormat {
  /** nginx `log_format` string describing the line. */
  readonly format: string;
  /** Whether extra space-separated fields after the described ones are tolerated (and ignored). */
  readonly allowTrailingFields: boolean;
}

const COMBINED =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

/**
 * Built-in layouts, by the names `createParser` accepts.
 * - `combined`: nginx `combined` (the default); extra trailing fields are ignored.
 * - `combined_xff`: `combined` followed by `"$http_x_forwarded_for"` (common in the wild); more
 *   trailing fields are ignored.
 * - `common`: nginx / Apache common log format (no referer, no user agent).
 * - `apache`: Apache `combined` (`%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"`): the
 *   same line shape as nginx combined; `%b` of `-` means 0 bytes.
 */
export const PRESET_FORMATS = {
  combined: { format: COMBINED, allowTrailingFields: true },
  combined_xff: { format: `${COMBINED} "$http_x_forwarded_for"`, allowTrailingFields: true },
  common: {
    format: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent',
    allowTrailingFields: true,
  },
  apache: { format: COMBINED, allowTrailingFields: true },
} as const satisfies Record<string, PresetFormat>;

/** Name of a built-in layout. */
export type PresetName = keyof typeof PRESET_FORMATS;
