import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';

/** A file is named by its first line (up to this many bytes) besides its device and inode. */
export const HEAD_BYTES = 1024;

/** At most this much is read from one file per poll; a line longer than this is cut here. */
export const READ_CHUNK_BYTES = 4 << 20;

/** One complete line of a followed file: its text (without the newline) and its byte range [start, end). */
export interface TailLine {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** 1-based line number in the file. */
  readonly lineNo: number;
  /** The line's bytes with its newline (a view of the read buffer). */
  readonly raw: Buffer;
}

/** What a position in a file must match to be taken up again: the file's identity and the line before it. */
export interface FilePosition {
  readonly key: string;
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly head: string;
  /** Every complete line before this byte is consumed. */
  readonly offset: number;
  /** Line number of the line starting at `offset`. */
  readonly nextLine: number;
  /** SHA-256 of the bytes of the last consumed line (with its newline); '' at offset 0. */
  readonly lastLineHash: string;
  /** Wall time the position was written (the newest log of a path is the one to continue). */
  readonly writtenAt?: number;
}

export const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** The key of a log first seen as (dev, ino) with this head: stable while the log is renamed or copied. */
export function fileKey(dev: number, ino: number, head: string): string {
  return `${dev}:${ino}:${head.slice(0, 16)}`;
}

/**
 * One open log file, read by byte offset through its descriptor (which survives a rename, so a
 * rotated file is read to its end under any name). Only complete lines are consumed: a last line
 * without its newline stays unread until it is complete. No timers: the follower polls.
 */
export class TailedFile {
  /** Null until the first line is complete (or HEAD_BYTES are there): the file is not read before. */
  head: string | null = null;
  /** Assigned by the follower once the head is known (a new key, or the key of the log this file continues). */
  key: string | null = null;
  /** Next byte to read; every complete line before it has been handed out. */
  offset = 0;
  nextLine = 1;
  /** Bytes of the last line handed out (with its newline), to recognise a copy of this log. */
  lastLine: Buffer = Buffer.alloc(0);
  /** The file size at the last look. */
  size = 0;
  /** Wall time the file last grew (or was opened). */
  grewAt: number;
  /** No longer reachable under a followed path (renamed away or deleted): read to its end, then closed. */
  retiring = false;

  private constructor(
    /** The path it was first followed under: the lineage `source` of its rows. */
    readonly path: string,
    private readonly fh: FileHandle,
    readonly dev: number,
    readonly ino: number,
    now: number,
  ) {
    this.grewAt = now;
  }

  /** Opens `file`; `lineage` is the path its rows name (default: the file), e.g. the path a rotated log was followed under. */
  static async open(file: string, now: number, lineage = file): Promise<TailedFile> {
    const fh = await open(file, 'r');
    try {
      const st = await fh.stat();
      const f = new TailedFile(lineage, fh, st.dev, st.ino, now);
      f.size = st.size;
      return f;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** The SHA-256 of the first line (or of the first HEAD_BYTES), or null while it is incomplete. */
  async readHead(): Promise<string | null> {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await this.fh.read(buf, 0, HEAD_BYTES, 0);
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    if (nl >= 0) return sha256(buf.subarray(0, nl + 1));
    return bytesRead >= HEAD_BYTES ? sha256(buf) : null;
  }

  /** The current size of the open file (not of whatever is at its path now). */
  async stat(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  /** Whether the bytes at [at, at + expected.length) are `expected` (a copy of a log holds its lines at the same offsets). */
  async bytesEqual(at: number, expected: Buffer): Promise<boolean> {
    if (expected.length === 0) return true;
    const buf = Buffer.alloc(expected.length);
    const { bytesRead } = await this.fh.read(buf, 0, expected.length, at);
    return bytesRead === expected.length && buf.equals(expected);
  }

  /** Takes up a log at a stored position (its line numbers and last line's hash). */
  resumeAt(offset: number, nextLine: number): void {
    this.offset = offset;
    this.nextLine = nextLine;
  }

  /** Whether the last line before `offset` hashes to `hash` (a stored position's check before resuming). */
  async lineBeforeHashes(offset: number, hash: string): Promise<Buffer | null> {
    if (offset === 0) return hash === '' ? Buffer.alloc(0) : null;
    const from = Math.max(0, offset - HEAD_BYTES * 64);
    const buf = Buffer.alloc(offset - from);
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, from);
    if (bytesRead !== buf.length || buf[buf.length - 1] !== 10) return null;
    const prev = buf.subarray(0, buf.length - 1).lastIndexOf(10);
    const line = Buffer.from(buf.subarray(prev + 1));
    return sha256(line) === hash ? line : null;
  }

  /**
   * Reads the complete lines from `offset` (at most READ_CHUNK_BYTES; a longer line without a newline
   * is cut there) and consumes them. `upTo` bounds the read (a batch re-built from a stored range).
   */
  async readLines(upTo = Number.POSITIVE_INFINITY): Promise<TailLine[]> {
    const size = await this.stat();
    this.size = size;
    const end = Math.min(size, upTo, this.offset + READ_CHUNK_BYTES);
    if (end <= this.offset) return [];
    const buf = Buffer.alloc(end - this.offset);
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, this.offset);
    const data = buf.subarray(0, bytesRead);
    let last = data.lastIndexOf(10);
    // A line longer than a whole chunk is cut (it would otherwise never be read).
    if (last < 0 && data.length >= READ_CHUNK_BYTES) last = data.length - 1;
    if (last < 0) return [];
    const out: TailLine[] = [];
    let pos = 0;
    while (pos <= last) {
      let nl = data.indexOf(10, pos);
      if (nl < 0 || nl > last) nl = last;
      let stop = nl;
      if (data[nl] === 10 && stop > pos && data[stop - 1] === 13) stop--;
      const text = data.toString('utf8', pos, data[nl] === 10 ? stop : nl + 1);
      out.push({ text, start: this.offset + pos, end: this.offset + nl + 1, lineNo: this.nextLine++, raw: data.subarray(pos, nl + 1) });
      if (nl === last) this.lastLine = Buffer.from(data.subarray(pos, nl + 1));
      pos = nl + 1;
    }
    this.offset += last + 1;
    return out;
  }

  /** The lines in bytes [start, end) (a stored batch read again), without consuming anything. */
  async readRange(start: number, end: number, firstLine: number): Promise<TailLine[]> {
    const saved = { offset: this.offset, nextLine: this.nextLine, lastLine: this.lastLine, size: this.size };
    this.offset = start;
    this.nextLine = firstLine;
    try {
      const out: TailLine[] = [];
      while (this.offset < end) {
        const lines = await this.readLines(end);
        if (lines.length === 0) break;
        out.push(...lines);
      }
      return this.offset === end ? out : [];
    } finally {
      Object.assign(this, saved);
    }
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
