/**
 * What Grafana and the ClickHouse datasource plugin (grafana-clickhouse-datasource v4) do to a
 * panel's `rawSql` before ClickHouse sees it, so the dashboards' queries can run here without Grafana:
 *
 * 1. Grafana interpolates dashboard variables (`$var`, `${var}`, `${var:format}`, `[[var]]`).
 * 2. The plugin's backend expands its macros (pkg/macros/macros.go of grafana/clickhouse-datasource):
 *    `$__timeFilter(col)`, `$__timeFilter_ms(col)`, `$__dateFilter(col)`, `$__dateTimeFilter(d, t)`
 *    (alias `$__dt`), `$__fromTime`, `$__toTime`, `$__fromTime_ms`, `$__toTime_ms`,
 *    `$__timeInterval(col)`, `$__timeInterval_ms(col)`, `$__interval_s`.
 *
 * Anything else that looks like a variable or macro is an error: an unknown variable, an unsupported
 * format, or a macro the plugin does not define (sqlds' generic `$__timeGroup`, `$__table` … are not
 * ClickHouse-specific and are refused here on purpose).
 */

export interface TimeRange {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface GrafanaQueryContext {
  readonly range: TimeRange;
  /** Grafana's `$__interval` for the panel, in ms. */
  readonly intervalMs: number;
  /** Current value(s) of each dashboard variable. */
  readonly variables: Readonly<Record<string, readonly string[]>>;
}

export class GrafanaSqlError extends Error {}

const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}/g;

/** Grafana's variable formats used for SQL (the rest of Grafana's formats are not needed here). */
function formatValues(values: readonly string[], format: string | undefined, name: string): string {
  switch (format) {
    case undefined:
    case 'raw':
      if (values.length !== 1) throw new GrafanaSqlError(`variable ${name} has ${values.length} values: give it a format such as :singlequote or :sqlstring`);
      return values[0]!;
    case 'singlequote':
      return values.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'sqlstring':
      return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
    case 'doublequote':
      return values.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    case 'csv':
      return values.join(',');
    default:
      throw new GrafanaSqlError(`unsupported variable format ${format} in ${name}`);
  }
}

/** Step 1: dashboard variables. `$__…` names are left for the macro step. */
export function interpolateVariables(sql: string, variables: GrafanaQueryContext['variables']): string {
  return sql.replace(VARIABLE, (match, plain?: string, oldName?: string, oldFormat?: string, braced?: string, bracedFormat?: string) => {
    const name = plain ?? oldName ?? braced!;
    if (name.startsWith('__')) {
      if (plain !== undefined) return match;
      throw new GrafanaSqlError(`Grafana global ${match} is not supported here`);
    }
    const values = variables[name];
    if (values === undefined) throw new GrafanaSqlError(`unknown dashboard variable ${match}`);
    return formatValues(values, oldFormat ?? bracedFormat, name);
  });
}

type Macro = (args: readonly string[], ctx: GrafanaQueryContext) => string;

const seconds = (ms: number): number => Math.floor(ms / 1000);
const dateTime = (ms: number): string => `toDateTime(${seconds(ms)})`;
const dateTime64 = (ms: number): string => `fromUnixTimestamp64Milli(${Math.trunc(ms)})`;
const date = (ms: number): string => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`;
const intervalSeconds = (ctx: GrafanaQueryContext): number => Math.max(Math.floor(ctx.intervalMs / 1000), 1);

function arity(name: string, n: number, f: Macro): Macro {
  return (args, ctx) => {
    if (args.length !== n) throw new GrafanaSqlError(`$__${name}: expected ${n} argument(s), received ${args.length}`);
    return f(args, ctx);
  };
}

const dateTimeFilter: Macro = ([d, t], { range }) =>
  `(${d} >= ${date(range.fromMs)} AND ${d} <= ${date(range.toMs)}) AND (${t} >= ${dateTime(range.fromMs)} AND ${t} <= ${dateTime(range.toMs)})`;

/** The plugin's macros, as its backend expands them. */
export const PLUGIN_MACROS: Readonly<Record<string, Macro>> = {
  fromTime: (_a, { range }) => dateTime(range.fromMs),
  toTime: (_a, { range }) => dateTime(range.toMs),
  fromTime_ms: (_a, { range }) => dateTime64(range.fromMs),
  toTime_ms: (_a, { range }) => dateTime64(range.toMs),
  timeFilter: arity('timeFilter', 1, ([c], { range }) => `${c} >= ${dateTime(range.fromMs)} AND ${c} <= ${dateTime(range.toMs)}`),
  timeFilter_ms: arity('timeFilter_ms', 1, ([c], { range }) => `${c} >= ${dateTime64(range.fromMs)} AND ${c} <= ${dateTime64(range.toMs)}`),
  dateFilter: arity('dateFilter', 1, ([c], { range }) => `${c} >= ${date(range.fromMs)} AND ${c} <= ${date(range.toMs)}`),
  dateTimeFilter: arity('dateTimeFilter', 2, dateTimeFilter),
  dt: arity('dt', 2, dateTimeFilter),
  timeInterval: arity('timeInterval', 1, ([c], ctx) => `toStartOfInterval(toDateTime(${c}), INTERVAL ${intervalSeconds(ctx)} second)`),
  timeInterval_ms: arity('timeInterval_ms', 1, ([c], ctx) => `toStartOfInterval(toDateTime64(${c}, 3), INTERVAL ${Math.max(Math.trunc(ctx.intervalMs), 1)} millisecond)`),
  interval_s: (_a, ctx) => String(intervalSeconds(ctx)),
};

/** Splits `a, f(b, c), d` at top-level commas. */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = text.slice(start).trim();
  if (last !== '' || out.length > 0) out.push(last);
  return out;
}

/** Step 2: the plugin's macros. Unknown `$__name` is an error. */
export function expandMacros(sql: string, ctx: GrafanaQueryContext): string {
  let out = '';
  let i = 0;
  const re = /\$__(\w+)/g;
  for (let m = re.exec(sql); m !== null; m = re.exec(sql)) {
    const name = m[1]!;
    const macro = PLUGIN_MACROS[name];
    if (!macro) throw new GrafanaSqlError(`unknown macro $__${name} (the ClickHouse plugin defines ${Object.keys(PLUGIN_MACROS).map((k) => `$__${k}`).join(', ')})`);
    let end = re.lastIndex;
    let args: string[] = [];
    if (sql[end] === '(') {
      let depth = 0;
      let j = end;
      for (; j < sql.length; j++) {
        if (sql[j] === '(') depth++;
        else if (sql[j] === ')' && --depth === 0) break;
      }
      if (j >= sql.length) throw new GrafanaSqlError(`unbalanced parentheses after $__${name}`);
      args = splitArgs(sql.slice(end + 1, j));
      end = j + 1;
    }
    out += sql.slice(i, m.index) + macro(args, ctx);
    i = end;
    re.lastIndex = end;
  }
  return out + sql.slice(i);
}

/** Both steps, in Grafana's order. */
export function expandGrafanaSql(sql: string, ctx: GrafanaQueryContext): string {
  return expandMacros(interpolateVariables(sql, ctx.variables), ctx);
}

/** Grafana's panel interval: range / max data points, at least the panel's min interval and 1 ms. */
export function panelIntervalMs(range: TimeRange, minInterval: string | undefined, maxDataPoints = 1000): number {
  const min = minInterval ? parseDuration(minInterval) : 1;
  return Math.max(Math.ceil((range.toMs - range.fromMs) / maxDataPoints), min, 1);
}

/** `30s`, `1m`, `5m`, `1h`, `1d` → ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new GrafanaSqlError(`cannot parse interval ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
