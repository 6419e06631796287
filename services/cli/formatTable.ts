/** Renders rows as an aligned text table for people (JSON output is for programs). */
export function formatTable(rows: ReadonlyArray<Record<string, unknown>>, maxCell = 80): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown): string => {
    const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    const flat = s.replace(/[\t\n\r]/g, ' ');
    return flat.length > maxCell ? `${flat.slice(0, maxCell - 1)}…` : flat;
  };
  const body = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((s, i) => s.padEnd(widths[i]!)).join('  ').trimEnd() + '\n';
  return line(cols) + line(widths.map((w) => '-'.repeat(w))) + body.map(line).join('');
}
