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
 * signed request must reach the configured URL and no other. At most 512 bytes of the response body
 * go into the error message.
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
    const why = timeout.aborted ? `timed out after ${timeoutMs} ms` : (err as Error).message;
    throw new RetryableHttpError(`POST ${redact(url)}: ${why}`);
  }
  const outcome = classifyStatus(res.status);
  if (outcome === 'ok') {
    await res.body?.cancel();
    return;
  }
  const text = (await res.text().catch(() => '')).slice(0, 512);
  const msg = `POST ${redact(url)}: HTTP ${res.status}${text ? ` ${text}` : ''}`;
  if (outcome === 'permanent') throw new PermanentSinkError(msg);
  throw new RetryableHttpError(msg, res.status);
}

/** The URL without credentials or query (webhook URLs often carry a token in the path or query). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname.length > 24 ? `${u.pathname.slice(0, 24)}…` : u.pathname;
    return `${u.protocol}//${u.host}${path}`;
  } catch {
    return '<invalid url>';
  }
}
