import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';


/** A chunk of complete lines with the 1-based number of the first one. */
export interface LineChunk {
  readonly firstLine: number;
  readonly lines: readonly string[];
}

export interface LineSource {
  /** As given: a path or '-' for stdin. */
  readonly name: string;
  /** Compressed or plain size on disk; 0 for stdin. For progress only. */
  readonly sizeBytes: number;
  /** Bytes read from disk so far (compressed), for progress. */
  bytesRead(): number;
  /**
   * SHA-256 of the first line of decompressed content. An access log's first line carries a
   * timestamp, a client and a path, so it names the log: the same log gets the same identity whether
   * plain, gzipped, renamed by rotation, or grown since the last replay. Final once `identityReady()`
   * (as soon as the first line is read).
   */
  identity(): string;
  identityReady(): boolean;
  chunks(): AsyncGenerator<LineChunk>;
}

/** Opens a file (gzip detected by its magic bytes, not its name) or stdin ('-'). */
export async function openLineSource(name: string, stdin: Readable = process.stdin): Promise<LineSource> {
  let sizeBytes = 0;
  let raw: Readable;
  if (name === '-') {
    raw = stdin;
  } else {
    const st = await stat(name).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`Cannot read ${name}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    });
    if (!st.isFile()) throw new Error(`Cannot read ${name}: not a regular file`);
    sizeBytes = st.size;
    raw = createReadStream(name, { highWaterMark: 1 << 20 });
  }
  let read = 0;
  raw.on('data', (b: Buffer) => {
    read += b.length;
  });
  let ready = false;
  let digest = '';
  const setIdentity = (firstLine: string): void => {
    if (!ready) {
      digest = createHash('sha256').update(firstLine).digest('hex');
      ready = true;
    }
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
      if (!ready) throw new Error('source identity requested before the first line was read');
      return digest;
    },
    identityReady: () => ready,
    async *chunks() {
      let carry = '';
      let lineNo = 1;
      const decoder = new TextDecoder('utf-8', { fatal: false });
      for await (const buf of bytes()) {
        const text = carry + decoder.decode(buf, { stream: true });
        const lines = text.split('\n');
        carry = lines.pop() ?? '';
        if (lines.length > 0) {
          for (let i = 0; i < lines.length; i++) {
            const l = lines[i]!;
            if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
          }
          if (!ready) setIdentity(lines[0]!);
          const chunk = { firstLine: lineNo, lines };
          lineNo += lines.length;
          yield chunk;
        }
      }
      carry += decoder.decode();
      const last = carry.endsWith('\r') ? carry.slice(0, -1) : carry;
      setIdentity(last);
      if (carry.length > 0) yield { firstLine: lineNo, lines: [last] };
    },
  };
}
