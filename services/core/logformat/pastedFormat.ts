import { LogFormatError } from './logFormatError.ts';

/**
 * Turns what people paste as a format into an nginx `log_format` string:
 * - a whole nginx directive, `log_format main [escape=json] '$remote_addr …' '"$request" …';` — the
 *   quoted pieces are joined as nginx joins them;
 * - an Apache `LogFormat "%h %l %u %t \"%r\" %>s %b …" combined` directive, or just its format
 *   string — each `%` directive becomes the nginx variable with the same meaning;
 * - anything else (a plain `log_format` string, a preset name) is returned as it is.
 *
 * @throws LogFormatError for an Apache directive with no nginx equivalent that matters here (a
 * custom `%{…}t` time) or an unterminated quote.
 */
export function formatFromPaste(text: string): string {
  const s = text.trim();
  const nginx = /^log_format\s+/i.exec(s);
  if (nginx) return nginxDirective(s.slice(nginx[0].length));
  const apache = /^LogFormat\s+/i.exec(s);
  if (apache) return apacheFormat(firstQuoted(s.slice(apache[0].length), 'LogFormat'));
  if (!s.includes('$') && /%[<>]?(?:\{[^}]*\})?[a-zA-Z]/.test(s)) return apacheFormat(s);
  return text;
}

/** `name [escape=…] 'piece' "piece" …;` → the joined pieces. */
function nginxDirective(rest: string): string {
  let r = rest.trim().replace(/;\s*$/, '');
  const words = /^(\S+)\s+(?:(escape=\S+)\s+)?/.exec(r);
  if (!words) throw new LogFormatError(`invalid log_format directive: expected "log_format name '…';", got ${JSON.stringify(rest)}`);
  r = r.slice(words[0].length);
  const pieces: string[] = [];
  let i = 0;
  while (i < r.length) {
    const c = r[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let piece = '';
      while (j < r.length && r[j] !== c) {
        if (r[j] === '\\' && j + 1 < r.length) {
          piece += r[j + 1];
          j += 2;
          continue;
        }
        piece += r[j];
        j++;
      }
      if (j >= r.length) throw new LogFormatError(`invalid log_format directive: unterminated ${c} quote in ${JSON.stringify(rest)}`);
      pieces.push(piece);
      i = j + 1;
      continue;
    }
    // An unquoted piece (nginx allows it when it has no spaces).
    let j = i;
    while (j < r.length && !/\s/.test(r[j]!)) j++;
    pieces.push(r.slice(i, j));
    i = j;
  }
  if (pieces.length === 0) throw new LogFormatError(`invalid log_format directive: no format string in ${JSON.stringify(rest)}`);
  return pieces.join('');
}

/** The first double-quoted string of an Apache directive, with `\"` unescaped. */
function firstQuoted(rest: string, what: string): string {
  const t = rest.trim();
  if (!t.startsWith('"')) return t.split(/\s+/)[0] ?? '';
  let out = '';
  for (let i = 1; i < t.length; i++) {
    const c = t[i]!;
    if (c === '\\' && i + 1 < t.length) {
      out += t[++i];
      continue;
    }
    if (c === '"') return out;
    out += c;
  }
  throw new LogFormatError(`invalid ${what} directive: unterminated quote in ${JSON.stringify(rest)}`);
}

/** Apache directive letter → nginx variable (mod_log_config). */
const APACHE: Readonly<Record<string, string>> = {
  h: '$remote_addr',
  a: '$remote_addr',
  l: '$remote_ident',
  u: '$remote_user',
  t: '[$time_local]',
  r: '$request',
  s: '$status',
  b: '$body_bytes_sent',
  B: '$body_bytes_sent',
  O: '$bytes_sent',
  m: '$request_method',
  U: '$uri',
  q: '$args',
  v: '$host',
  V: '$host',
  H: '$server_protocol',
  D: '$request_time_us',
  T: '$request_time_s',
  p: '$server_port',
  I: '$bytes_received',
  X: '$connection_status',
  k: '$keepalive_requests',
  L: '$log_id',
  P: '$pid',
};

/** An Apache `LogFormat` string → the nginx `log_format` string with the same fields. */
function apacheFormat(f: string): string {
  let out = '';
  for (let i = 0; i < f.length; i++) {
    const c = f[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    // The path and its query string together are the request target.
    if (f.startsWith('%U%q', i)) {
      out += '$request_uri';
      i += 3;
      continue;
    }
    let j = i + 1;
    if (f[j] === '%') {
      out += '%';
      i = j;
      continue;
    }
    while (f[j] === '<' || f[j] === '>' || (f[j] !== undefined && /[!0-9,]/.test(f[j]!))) j++;
    let arg: string | null = null;
    if (f[j] === '{') {
      const close = f.indexOf('}', j);
      if (close === -1) throw new LogFormatError(`invalid LogFormat: unterminated %{ in ${JSON.stringify(f)}`);
      arg = f.slice(j + 1, close);
      j = close + 1;
    }
    const letter = f[j];
    if (letter === undefined) throw new LogFormatError(`invalid LogFormat: a % at the end of ${JSON.stringify(f)}`);
    if (arg !== null && (letter === 'i' || letter === 'o' || letter === 'e' || letter === 'C' || letter === 'n')) {
      const name = arg.toLowerCase().replace(/[^a-z0-9]/g, '_');
      out += letter === 'i' ? `$http_${name}` : `$apache_${letter}_${name}`;
    } else if (arg !== null && letter === 't') {
      throw new LogFormatError(`LogFormat time %{${arg}}t is not supported: use %t (the common log time) or log $time_iso8601 from nginx`);
    } else {
      out += APACHE[letter] ?? `$apache_${letter}`;
    }
    i = j;
  }
  return out;
}
