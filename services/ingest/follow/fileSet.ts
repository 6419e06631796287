import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import { fileKey, sha256, TailedFile, type FilePosition, type TailLine } from './tailedFile.ts';

/** Compressed rotations (`access.log.2.gz`) are not followed: they are finished logs, for `replay`. */
const COMPRESSED = /\.(gz|bz2|xz|zst|lz4|zip)$/i;

/** Something the follower wants said once (rotation, truncation, a log whose rest could not be found). */
export interface FollowNotice {
  readonly level: 'info' | 'warn';
  readonly msg: string;
  readonly path: string;
  readonly detail?: Record<string, unknown>;
}

export interface FileSetOptions {
  /** Paths and globs as given (a glob is expanded again at every scan). */
  readonly patterns: readonly string[];
  /** Where each log stood when it was last stored (follow_batches), by key. */
  readonly positions: ReadonlyMap<string, FilePosition>;
  /** A log seen for the first time at the first scan starts at its end (its last complete line). */
  readonly fromEnd?: boolean;
  /** A file no longer at a followed path is closed once it has not grown for this long. Default 5 s. */
  readonly retireAfterMs?: number;
  readonly now: () => number;
  readonly notice: (n: FollowNotice) => void;
}

/** New lines of one file, consumed from the file (not yet stored). */
export interface FileLines {
  readonly file: TailedFile;
  readonly lines: readonly TailLine[];
}

/**
 * The files behind a set of paths and globs, followed like `tail -F`:
 * - a path that does not exist yet is waited for; a glob picks up files that appear;
 * - rename rotation: the renamed file is read to its end through its open descriptor (writers may
 *   still append until they reopen), then closed once it has not grown for `retireAfterMs`; the new
 *   file at the path is followed from its start;
 * - copytruncate: a file that shrinks below what was read, or whose first line changed, is a new log
 *   from byte 0; what was not read before the truncation is taken from the copy when one is found
 *   next to it (same first line, same last consumed line at the same offset);
 * - a log is known by its key (device, inode and first line at first sight), so a file seen under a
 *   second name (a glob matching `access.log.1`) is not read twice, and a copy of a live log is not
 *   read at all until the live log is truncated.
 * Plain I/O, no timers: the follower calls {@link scan} and {@link poll}.
 */
export class FileSet {
  readonly files: TailedFile[] = [];
  /** Copies of live logs (same content), not read: by the file they copy. */
  private readonly copies = new Map<TailedFile, TailedFile>();
  private readonly byIdentity = new Map<string, FilePosition>();
  private readonly warned = new Set<string>();
  private scans = 0;
  private readonly retireAfterMs: number;
  /** Paths that matched the last scan. */
  matched: string[] = [];

  constructor(private readonly opts: FileSetOptions) {
    this.retireAfterMs = opts.retireAfterMs ?? 5_000;
    for (const p of opts.positions.values()) this.byIdentity.set(`${p.dev}:${p.ino}:${p.head}`, p);
  }

  /** The paths the patterns name now (globs expanded; plain paths whether they exist or not). */
  async expand(): Promise<string[]> {
    const out = new Set<string>();
    for (const p of this.opts.patterns) {
      if (isDynamicPattern(p)) for (const m of await glob(p, { absolute: true, onlyFiles: true, followSymbolicLinks: true })) out.add(resolve(m));
      else out.add(resolve(p));
    }
    return [...out].sort();
  }

  /** Opens what appeared, marks what left the followed paths as retiring. At the first scan, also looks for the rest of logs rotated while nothing followed them. */
  async scan(): Promise<void> {
    const first = this.scans++ === 0;
    const seen = new Set<TailedFile>();
    this.matched = await this.expand();
    for (const path of this.matched) {
      if (COMPRESSED.test(path)) {
        this.warnOnce(path, 'info', 'compressed file not followed (replay it)');
        continue;
      }
      let st;
      try {
        st = await stat(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') this.warnOnce(path, 'warn', `cannot read: ${(err as Error).message}`);
        continue;
      }
      if (!st.isFile()) {
        this.warnOnce(path, 'warn', 'not a regular file: not followed');
        continue;
      }
      const known = this.files.find((f) => f.dev === st.dev && f.ino === st.ino) ?? [...this.copies.keys()].find((f) => f.dev === st.dev && f.ino === st.ino);
      if (known) {
        seen.add(known);
        continue;
      }
      let f: TailedFile;
      try {
        f = await TailedFile.open(path, this.opts.now());
      } catch (err) {
        this.warnOnce(path, 'warn', `cannot read: ${(err as Error).message}`);
        continue;
      }
      this.warned.delete(path);
      seen.add(f);
      if (!(await this.identify(f, first))) this.files.push(f);
    }
    for (const f of this.files) {
      const leaving = !seen.has(f);
      if (leaving && !f.retiring) {
        f.grewAt = this.opts.now();
        this.opts.notice({ level: 'info', msg: 'file left the followed paths (rotated or deleted): reading it to its end', path: f.path, detail: { key: f.key, offset: f.offset } });
      }
      f.retiring = leaving;
    }
    for (const c of [...this.copies.keys()]) {
      if (!seen.has(c)) {
        this.copies.delete(c);
        await c.close();
      }
    }
    if (first) await this.findRotatedWhileStopped();
  }

  /**
   * Gives a file its key once its first line is there: the stored position of the same file (resume),
   * a copy of a live log (held, not read), the position of a log this file is a copy of (resume there),
   * or a new key (from byte 0, or from its end with fromEnd at the first scan). Returns true when the
   * file was held as a copy.
   */
  private async identify(f: TailedFile, firstScan: boolean): Promise<boolean> {
    const head = await f.readHead();
    if (head === null) return false;
    f.head = head;
    const exact = this.byIdentity.get(`${f.dev}:${f.ino}:${head}`);
    if (exact && !this.isLive(exact.key)) {
      f.key = exact.key;
      f.resumeAt(exact.offset, exact.nextLine);
      f.lastLine = (await f.lineBeforeHashes(exact.offset, exact.lastLineHash)) ?? Buffer.alloc(0);
      return false;
    }
    for (const live of this.files) {
      if (live.key !== null && live.head === head && live.offset > 0 && (await f.bytesEqual(live.offset - live.lastLine.length, live.lastLine))) {
        this.copies.set(f, live);
        this.opts.notice({ level: 'info', msg: 'a copy of a followed log: not read unless that log is truncated', path: f.path, detail: { of: live.path } });
        return true;
      }
    }
    for (const p of this.opts.positions.values()) {
      if (p.head === head && !this.isLive(p.key) && f.size >= p.offset) {
        const line = await f.lineBeforeHashes(p.offset, p.lastLineHash);
        if (line !== null) {
          f.key = p.key;
          f.resumeAt(p.offset, p.nextLine);
          f.lastLine = line;
          return false;
        }
      }
    }
    f.key = fileKey(f.dev, f.ino, head);
    if (firstScan && this.opts.fromEnd) await this.skipToEnd(f);
    return false;
  }

  private isLive(key: string): boolean {
    return this.files.some((f) => f.key === key);
  }

  /** Starts a file at its last complete line, counting the lines before it. */
  private async skipToEnd(f: TailedFile): Promise<void> {
    for (;;) {
      const lines = await f.readLines();
      if (lines.length === 0) break;
    }
    this.opts.notice({ level: 'info', msg: 'new log followed from its end (--from-end)', path: f.path, detail: { offset: f.offset, lines: f.nextLine - 1 } });
  }

  /** Logs whose last stored position no followed file continues: the rest is read from a file in the same directory holding that log (renamed, or copied by copytruncate), else said lost. */
  private async findRotatedWhileStopped(): Promise<void> {
    // Only the newest log per path: older ones were rotated while followed and read to their end then.
    const latest = new Map<string, FilePosition>();
    for (const p of this.opts.positions.values()) {
      const prev = latest.get(p.path);
      if (!prev || (p.writtenAt ?? 0) > (prev.writtenAt ?? 0)) latest.set(p.path, p);
    }
    for (const p of latest.values()) {
      if (this.isLive(p.key)) continue;
      const f = await this.findRest(p);
      if (f) {
        f.retiring = true;
        this.files.push(f);
        this.opts.notice({ level: 'info', msg: 'log rotated while stopped: reading the rest of it', path: p.path, detail: { from: f.path, offset: p.offset } });
      } else if (this.matched.includes(p.path)) {
        this.opts.notice({
          level: 'warn',
          msg: 'log rotated while stopped and not found next to it (deleted or compressed): lines written to it after the stored position were not read',
          path: p.path,
          detail: { key: p.key, offset: p.offset },
        });
      }
    }
  }

  /** A file in the log's directory that holds the log past `p.offset`: the same inode and head, or a copy (same head, same last line at the same offset). */
  private async findRest(p: FilePosition): Promise<TailedFile | null> {
    const dir = dirname(p.path);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return null;
    }
    for (const name of names) {
      if (COMPRESSED.test(name)) continue;
      const path = join(dir, name);
      const st = await stat(path).catch(() => null);
      if (!st?.isFile() || st.size <= p.offset) continue;
      if (this.files.some((f) => f.dev === st.dev && f.ino === st.ino)) continue;
      const f = await TailedFile.open(path, this.opts.now(), p.path).catch(() => null);
      if (!f) continue;
      const head = await f.readHead();
      const line = head === p.head ? await f.lineBeforeHashes(p.offset, p.lastLineHash) : null;
      if (line !== null && (st.ino === p.ino || line.length > 0 || p.offset === 0)) {
        f.head = head;
        f.key = p.key;
        f.resumeAt(p.offset, p.nextLine);
        f.lastLine = line;
        return f;
      }
      await f.close();
    }
    return null;
  }

  /**
   * Reads what each file has gained: complete lines only. Detects truncation (size below what was
   * read, or a new first line), reads the rest of a truncated log from its copy when there is one,
   * and closes retired files that are read to their end and quiet.
   */
  async poll(): Promise<FileLines[]> {
    const out: FileLines[] = [];
    const now = this.opts.now();
    for (const f of [...this.files]) {
      let size: number;
      try {
        size = await f.stat();
      } catch {
        continue;
      }
      if (f.key === null) {
        if (size > 0) await this.identify(f, false).then((copy) => copy && this.dropFile(f));
        if (f.key === null) continue;
      }
      if (size !== f.size) f.grewAt = now;
      if (size < f.offset || (size !== f.size && f.offset > 0 && (await f.readHead()) !== f.head)) {
        await this.truncated(f);
        if (f.key === null) continue;
      }
      const lines = await f.readLines();
      if (lines.length > 0) out.push({ file: f, lines });
      else if (f.retiring && now - f.grewAt >= this.retireAfterMs) {
        const left = f.size - f.offset;
        if (left > 0) this.opts.notice({ level: 'warn', msg: 'rotated file closed with an unfinished last line (not stored)', path: f.path, detail: { bytes: left } });
        this.dropFile(f);
        await f.close();
      }
    }
    return out;
  }

  private dropFile(f: TailedFile): void {
    const i = this.files.indexOf(f);
    if (i >= 0) this.files.splice(i, 1);
  }

  /** Copytruncate: the log continues from its copy (if found); the truncated file starts a new log at byte 0. */
  private async truncated(f: TailedFile): Promise<void> {
    const old: FilePosition = { key: f.key!, path: f.path, dev: f.dev, ino: f.ino, head: f.head!, offset: f.offset, nextLine: f.nextLine, lastLineHash: f.lastLine.length > 0 ? sha256(f.lastLine) : '' };
    let copy: TailedFile | null = null;
    for (const [c, of] of this.copies) {
      if (of === f) {
        this.copies.delete(c);
        c.key = old.key;
        c.resumeAt(old.offset, old.nextLine);
        c.lastLine = f.lastLine;
        copy = c;
        break;
      }
    }
    // A copy outside the followed paths, next to the log (logrotate's access.log.1).
    copy ??= await this.findRest(old);
    f.key = null;
    f.head = null;
    f.resumeAt(0, 1);
    f.lastLine = Buffer.alloc(0);
    f.size = 0;
    if (copy) {
      this.files.push(copy);
      this.opts.notice({ level: 'info', msg: 'file truncated (copytruncate): reading the rest of the log from its copy', path: f.path, detail: { copy: copy.path, offset: old.offset } });
    } else {
      this.opts.notice({ level: 'warn', msg: 'file truncated and no copy found: lines written after the last read and before the truncation are lost', path: f.path, detail: { offset: old.offset } });
    }
    if ((await f.readHead()) !== null) await this.identify(f, false);
  }

  private warnOnce(path: string, level: 'info' | 'warn', msg: string): void {
    const k = `${path}\n${msg}`;
    if (this.warned.has(k)) return;
    this.warned.add(k);
    this.opts.notice({ level, msg, path });
  }

  async close(): Promise<void> {
    for (const f of [...this.files, ...this.copies.keys()]) await f.close();
    this.files.length = 0;
    this.copies.clear();
  }
}
