import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DETECT_SAMPLE_SIZE } from '../core/logformat/detectFormat.ts';

/**
 * A log is named by the SHA-256 of its first this-many lines (ARCHITECTURE.md "Idempotency"):
 * enough lines that two different logs do not share them, few enough that a log is named as soon
 * as it has them and keeps its name while it grows.
 */
export const IDENTITY_LINES = 64;

/**
 * The first chunk holds at least this many lines, or the whole input when it is shorter: format
 * detection votes over it and the identity is final when it is yielded.
 */
export const FIRST_CHUNK_LINES = Math.max(DETECT_SAMPLE_SIZE, IDENTITY_LINES);

/** A chunk of complete lines with the 1-based number of the first one. */
export interface LineChunk {
  readonly firstLine: number;
  readonly lines: readonly string[];
}

/** The identity a log had when it held only its first `lines` complete lines (fewer than {@link IDENTITY_LINES}). */
export interface EarlierIdentity {
  readonly id: string;
  readonly lines: number;
}

/** Why reading an input stopped before its end. Every complete line before that point was yielded. */
export interface ReadFailure {
  /** What went wrong, e.g. `truncated gzip data (unexpected end of file)`. */
  readonly reason: string;
  /** Complete lines read (and yielded) before the failure; a partial line at the break is dropped. */
  readonly lines: number;
}

export interface LineSource {
  /** As given: a path or '-' for stdin. */
  readonly name: string;
  /** Compressed or plain size on disk; 0 for stdin. For progress only. */
  readonly sizeBytes: number;
  /** Bytes read from disk so far (compressed), for progress. */
  bytesRead(): number;
  /**
   * SHA-256 of the first {@link IDENTITY_LINES} complete lines of decompressed content (lines
   * joined by `\n`); a log with fewer complete lines is named by all of them (a single unfinished
   * line names a log with no complete one). The same log gets the same identity whether plain,
   * gzipped, renamed by rotation, or grown since the last replay once it has that many lines; a
   * log that had fewer is found again through {@link earlierIdentities}. Final once
   * `identityReady()`; throws before.
   */
  identity(): string;
  /** True once the first chunk has been yielded (or the input ended without one). */
  identityReady(): boolean;
  /**
   * The identities this log had when it was shorter: one per prefix of 1 … (identity lines − 1)
   * complete lines. A replay of the log at that length stored its lines under that identity, and
   * only the first `lines` of them are known to be the same lines as now. Final with `identity()`.
   */
  earlierIdentities(): readonly EarlierIdentity[];
  /**
   * Lines in order. The first chunk holds at least {@link FIRST_CHUNK_LINES} lines or the whole
   * input. A read error (a truncated or damaged gzip, an I/O error) ends the chunks after the last
   * complete line instead of throwing; `readFailure()` then says why.
   */
  chunks(): AsyncGenerator<LineChunk>;
  /** Set when `chunks()` ended early on a read error; null while reading and after a full read. */
  readFailure(): ReadFailure | null;
}

/** The size of an input file, or an error saying why it cannot be read (missing, not a regular file). */
export async function readableFileSize(name: string): Promise<number> {
  const st = await stat(name).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`Cannot read ${name}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, { cause: err });
  });
  if (!st.isFile()) throw new Error(`Cannot read ${name}: not a regular file`);
  return st.size;
}

/** Opens a file (gzip detected by its magic bytes, not its name) or stdin ('-'). */
export async function openLineSource(name: string, stdin: Readable = process.stdin): Promise<LineSource> {
  let sizeBytes = 0;
  let raw: Readable;
  if (name === '-') {
    raw = stdin;
  } else {
    sizeBytes = await readableFileSize(name);
    raw = createReadStream(name, { highWaterMark: 1 << 20 });
  }
  let read = 0;
  raw.on('data', (b: Buffer) => {
    read += b.length;
  });
  let ready = false;
  let digest = '';
  let earlier: EarlierIdentity[] = [];
  let failure: ReadFailure | null = null;

  const fixIdentity = (complete: readonly string[], unfinished: string): void => {
    const prefix = complete.length > 0 ? complete.slice(0, IDENTITY_LINES) : unfinished !== '' ? [unfinished] : [];
    const hash = createHash('sha256');
    const found: EarlierIdentity[] = [];
    for (let i = 0; i < prefix.length; i++) {
      if (i > 0) {
        found.push({ id: hash.copy().digest('hex'), lines: i });
        hash.update('\n');
      }
      hash.update(prefix[i]!);
    }
    digest = hash.digest('hex');
    earlier = found;
    ready = true;
  };

  async function* bytes(): AsyncGenerator<Buffer> {
    const it = (raw as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done) return;
    const head = first.value;
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
      // Gzip (possibly several members, as logrotate and `cat a.gz b.gz` produce).
      const gunzip = createGunzip({ chunkSize: 1 << 20 });
      const feeder = (async () => {
        gunzip.write(head);
        for (;;) {
          const n = await it.next();
          if (n.done) break;
          if (!gunzip.write(n.value)) await once(gunzip, 'drain');
        }
        gunzip.end();
      })().catch((err: unknown) => gunzip.destroy(err as Error));
      for await (const b of gunzip as AsyncIterable<Buffer>) yield b;
      await feeder;
      return;
    }
    yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  }

  return {
    name,
    sizeBytes,
    bytesRead: () => read,
    identity: () => {
      if (!ready) throw new Error('source identity requested before the first chunk was read');
      return digest;
    },
    identityReady: () => ready,
    earlierIdentities: () => earlier,
    readFailure: () => failure,
    async *chunks() {
      let carry = '';
      let lineNo = 1;
      // Lines held back until the first chunk is big enough (stdin delivers 64 KiB at a time).
      let held: string[] | null = [];
      const decoder = new TextDecoder('utf-8', { fatal: false });
      try {
        for await (const buf of bytes()) {
          const text = carry + decoder.decode(buf, { stream: true });
          const lines = text.split('\n');
          carry = lines.pop() ?? '';
          if (lines.length === 0) continue;
          for (let i = 0; i < lines.length; i++) {
            const l = lines[i]!;
            if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
          }
          if (held !== null) {
            for (const l of lines) held.push(l);
            if (held.length < FIRST_CHUNK_LINES) continue;
            fixIdentity(held, '');
            const chunk = { firstLine: 1, lines: held };
            held = null;
            lineNo += chunk.lines.length;
            yield chunk;
            continue;
          }
          const chunk = { firstLine: lineNo, lines };
          lineNo += lines.length;
          yield chunk;
        }
        carry += decoder.decode();
      } catch (err) {
        // What was read stands; the line the error cut is incomplete, so it is dropped.
        if (name !== '-') raw.destroy();
        carry = '';
        failure = { reason: describeReadError(err), lines: lineNo - 1 + (held?.length ?? 0) };
      }
      const last = carry.endsWith('\r') ? carry.slice(0, -1) : carry;
      if (held !== null) {
        fixIdentity(held, last);
        if (carry.length > 0) held.push(last);
        if (held.length > 0) yield { firstLine: 1, lines: held };
        return;
      }
      if (carry.length > 0) yield { firstLine: lineNo, lines: [last] };
    },
  };
}

/**
 * Line ranges of `source` that an earlier replay stored, merged and sorted: those recorded under its
 * identity, plus those recorded under an earlier identity, cut to the lines that identity covers.
 * `lookup` answers the ledger's ranges for one identity. The earlier identities are only looked up
 * when the identity's own ranges do not already cover the lines they could add.
 */
export async function storedLinesOf(source: LineSource, lookup: (sourceId: string) => Promise<Array<[number, number]>>): Promise<Array<[number, number]>> {
  const own = mergeRanges(await lookup(source.identity()));
  const earlier = source.earlierIdentities();
  const longest = earlier.at(-1)?.lines ?? 0;
  if (longest === 0 || (own[0] !== undefined && own[0][0] <= 1 && own[0][1] >= longest)) return own;
  const found = await Promise.all(
    earlier.map(async (e) => {
      const ranges = await lookup(e.id);
      return ranges.filter(([from]) => from <= e.lines).map(([from, to]): [number, number] => [from, Math.min(to, e.lines)]);
    }),
  );
  return mergeRanges([...own, ...found.flat()]);
}

/** Sorted, non-overlapping ranges covering the same lines (adjacent ranges are joined). */
export function mergeRanges(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [from, to] of sorted) {
    const last = out.at(-1);
    if (last !== undefined && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}

/** A read error as a phrase for the operator; zlib's codes tell a cut file from damaged data. */
function describeReadError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = e?.message ?? String(err);
  if (e?.code === 'Z_BUF_ERROR') return `truncated gzip data (${message})`;
  if (typeof e?.code === 'string' && e.code.startsWith('Z_')) return `damaged gzip data (${message})`;
  return `read error (${message})`;
}
