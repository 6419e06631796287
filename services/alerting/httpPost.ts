import { PermanentSinkError } from './sink.ts';

/** What a response status means for a delivery: done, try again later, or give up. */
export type HttpOutcome = 'ok' | 'retry' | 'permanent';

/** 2xx ok; 429, 408 and 5xx are worth retrying; any other status (4xx, 3xx not followed) is permanent. */
export function classifyStatus(status: number): HttpOutcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 429 || status === 408 || status >= 500) return 'retry';
  return 'permanent';
}

/** A failed HTTP delivery that is worth retrying (5xx, 429, timeout, network error). */
export class RetryableHttpError extends Error {
  override readonly name = 'RetryableHttpError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export type FetchFn = typeof fetch;

/**
 * POSTs `body` (already serialised JSON) with Node's fetch. Resolves on 2xx; rejects with a
 * {@link PermanentSinkError} for a status that retrying cannot fix, otherwise with a
 * {@link RetryableHttpError} (timeouts and network errors included). Redirects are not followed: a
 * signed request must reach the configured URL and no other.
 *
 * Error messages end up in logs, so they name the URL by scheme, host and port only ({@link
 * redact}); a network error by its code, not by the fetch error's message (which can quote the URL);
 * and carry at most 512 characters of the response body with the URL's path, query and credentials and
 * the `authorization` header's value cut out (receivers often echo the path of a 404).
 */
export async function postJson(
  fetchFn: FetchFn,
  url: string,
  body: string,
  headers: Readonly<Record<string, string>>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetchFn(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal: combined, redirect: 'manual' });
  } catch (err) {
    const why = timeout.aborted ? `timed out after ${timeoutMs} ms` : `network error (${errorCode(err)})`;
    throw new RetryableHttpError(`POST ${redact(url)}: ${why}`);
  }
  const outcome = classifyStatus(res.status);
  if (outcome === 'ok') {
    await res.body?.cancel();
    return;
  }
  // Scrubbed before the cut, so that a token straddling character 512 cannot leave its first half.
  const text = scrub((await res.text().catch(() => '')).slice(0, 4096), sensitiveParts(url, headers)).slice(0, 512);
  const msg = `POST ${redact(url)}: HTTP ${res.status}${text ? ` ${text}` : ''}`;
  if (outcome === 'permanent') throw new PermanentSinkError(msg);
  throw new RetryableHttpError(msg, res.status);
}

/** Scheme, host and port of the URL: never its path, query or credentials (webhook URLs often carry a token there). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '<invalid url>';
  }
}

/** `ECONNREFUSED`, `UND_ERR_SOCKET`, … from undici's `cause`, else the error's name; never its message. */
function errorCode(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : (err as Error | null)?.name;
  return typeof code === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(code) ? code : 'unknown';
}

/**
 * What a response body must not repeat: the URL's path with and without its query, each path
 * segment and query value of 8 characters or more (where tokens sit), user and password, raw and
 * percent-decoded, and the `authorization` header's value and credential.
 */
function sensitiveParts(url: string, headers: Readonly<Record<string, string>>): string[] {
  const parts: string[] = [];
  try {
    const u = new URL(url);
    parts.push(u.pathname + u.search, u.pathname, u.search, u.username, u.password);
    parts.push(...u.pathname.split('/'), ...[...u.searchParams.values()]);
  } catch {
    parts.push(url);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'authorization') parts.push(value, value.replace(/^\S+\s+/, ''));
  }
  const decoded = parts.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return [...new Set([...parts, ...decoded])].filter((p) => p.length >= 8 || (p.length > 1 && p.startsWith('/')));
}

function scrub(text: string, parts: readonly string[]): string {
  let out = text;
  for (const p of [...parts].sort((a, b) => b.length - a.length)) out = out.split(p).join('…');
  return out;
}
