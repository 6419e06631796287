import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import {
  FIRST_CHUNK_LINES,
  IDENTITY_LINES,
  mergeRanges,
  openLineSource,
  storedLinesOf,
  type LineChunk,
  type LineSource,
} from '../../../services/ingest/lineReader.ts';

const text = (lines: readonly string[]): string => lines.map((l) => `${l}\n`).join('');
const logLines = (n: number, tag = 'a'): string[] => Array.from({ length: n }, (_, i) => `${tag} line ${i + 1}`);
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** An in-memory input delivered in pieces of `piece` bytes (as a pipe would). */
function source(content: string | Buffer, piece = 1 << 20): Promise<LineSource> {
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += piece) pieces.push(buf.subarray(i, i + piece));
  return openLineSource('-', Readable.from(pieces));
}

async function readAll(src: LineSource): Promise<{ chunks: LineChunk[]; lines: string[] }> {
  const chunks: LineChunk[] = [];
  for await (const c of src.chunks()) chunks.push(c);
  return { chunks, lines: chunks.flatMap((c) => c.lines) };
}

async function identityOf(content: string | Buffer): Promise<{ id: string; earlier: ReadonlyArray<{ id: string; lines: number }> }> {
  const src = await source(content);
  await readAll(src);
  return { id: src.identity(), earlier: src.earlierIdentities() };
}

test('identity: the first 64 lines, the same plain or gzipped, kept while the log grows', async () => {
  const lines = logLines(1000);
  const full = await identityOf(text(lines));
  assert.equal(full.id, sha(lines.slice(0, IDENTITY_LINES).join('\n')));
  assert.equal((await identityOf(gzipSync(text(lines)))).id, full.id);
  assert.equal((await identityOf(text(lines.slice(0, 500)))).id, full.id);
  assert.equal((await identityOf(text(lines.slice(0, IDENTITY_LINES)))).id, full.id);
  assert.notEqual((await identityOf(text(lines.slice(0, IDENTITY_LINES - 1)))).id, full.id);
  // 63 earlier identities: the log's names when it had 1 … 63 lines.
  assert.deepEqual(
    full.earlier,
    Array.from({ length: IDENTITY_LINES - 1 }, (_, i) => ({ id: sha(lines.slice(0, i + 1).join('\n')), lines: i + 1 })),
  );
});

test('identity: two logs sharing only their first line (or first 63 lines) differ', async () => {
  const a = logLines(300, 'a');
  const b = [a[0]!, ...logLines(299, 'b')];
  assert.notEqual((await identityOf(text(a))).id, (await identityOf(text(b))).id);
  const c = [...a.slice(0, IDENTITY_LINES - 1), ...logLines(300, 'c')];
  assert.notEqual((await identityOf(text(a))).id, (await identityOf(text(c))).id);
});

test('identity: a short log is named by all its complete lines, and found again once it grew', async () => {
  const lines = logLines(25);
  const at20 = await identityOf(text(lines.slice(0, 20)));
  const at25 = await identityOf(text(lines));
  assert.notEqual(at25.id, at20.id);
  assert.deepEqual(at25.earlier[19], { id: at20.id, lines: 20 });
  assert.equal(at25.earlier.length, 24);
  // An unfinished last line is not part of the identity (it may still be being written) …
  const unfinished = await identityOf(`${text(lines.slice(0, 20))}a line 21 half`);
  assert.equal(unfinished.id, at20.id);
  // … and CRLF line ends name the same log as LF.
  assert.equal((await identityOf(lines.slice(0, 20).map((l) => `${l}\r\n`).join(''))).id, at20.id);
  // A single unfinished line still names its input; an empty input has no earlier identities.
  assert.equal((await identityOf('only line, no newline')).id, sha('only line, no newline'));
  assert.deepEqual((await identityOf('')).earlier, []);
});

test('the first chunk holds the first 2,000 lines even when the input arrives in small pieces; the identity is final with it', async () => {
  const lines = logLines(5000);
  const src = await source(text(lines), 4096);
  assert.equal(src.identityReady(), false);
  assert.throws(() => src.identity(), /before the first chunk/);
  const chunks: LineChunk[] = [];
  for await (const c of src.chunks()) {
    if (chunks.length === 0) {
      assert.equal(src.identityReady(), true);
      assert.equal(src.identity(), sha(lines.slice(0, IDENTITY_LINES).join('\n')));
    }
    chunks.push(c);
  }
  assert.equal(chunks[0]!.firstLine, 1);
  assert.ok(chunks[0]!.lines.length >= FIRST_CHUNK_LINES && chunks[0]!.lines.length < FIRST_CHUNK_LINES + 200, String(chunks[0]!.lines.length));
  assert.deepEqual(chunks.flatMap((c) => c.lines), lines);
  for (let i = 1; i < chunks.length; i++) assert.equal(chunks[i]!.firstLine, chunks[i - 1]!.firstLine + chunks[i - 1]!.lines.length);
  assert.equal(src.readFailure(), null);

  // Shorter than that: one chunk with everything, the unfinished last line included.
  const short = await readAll(await source(`${text(logLines(30))}tail`, 100));
  assert.deepEqual(short.chunks.map((c) => [c.firstLine, c.lines.length]), [[1, 31]]);
  assert.equal(short.lines[30], 'tail');
});

test('a truncated gzip yields every complete line before the cut, then reports the failure instead of throwing', async () => {
  const lines = logLines(20_000);
  const gz = gzipSync(text(lines));
  const src = await source(gz.subarray(0, Math.floor(gz.length / 2)), 65_536);
  const { lines: got } = await readAll(src);
  assert.ok(got.length > 5000 && got.length < 20_000, String(got.length));
  assert.deepEqual(got, lines.slice(0, got.length), 'complete lines only, in order');
  assert.deepEqual(src.readFailure(), { reason: 'truncated gzip data (unexpected end of file)', lines: got.length });
  assert.equal(src.identity(), sha(lines.slice(0, IDENTITY_LINES).join('\n')), 'the same identity as the whole log');

  // Cut inside the first chunk: what was read is still yielded.
  const early = await source(gzipSync(text(logLines(1000))).subarray(0, 1500));
  const e = await readAll(early);
  assert.deepEqual(e.lines, logLines(1000).slice(0, e.lines.length));
  assert.equal(early.readFailure()?.lines, e.lines.length);

  // Damaged data is named as such.
  const damaged = Buffer.from(gz);
  damaged.fill(0x55, 200, 400);
  const d = await source(damaged);
  await readAll(d);
  assert.match(d.readFailure()?.reason ?? '', /^damaged gzip data \(/);
});

test('storedLinesOf: the identity\'s own ranges, plus earlier identities\' ranges cut to the lines they name', async () => {
  const lines = logLines(30);
  const src = await source(text(lines));
  await readAll(src);
  const at20 = (await identityOf(text(lines.slice(0, 20)))).id;
  const at25 = (await identityOf(text(lines.slice(0, 25)))).id;
  const ledger = new Map<string, Array<[number, number]>>([
    [at20, [[1, 21]]], // replayed at 20 lines plus a half-written 21st: only 1-20 are known to be these lines
    [at25, [[21, 25]]],
  ]);
  const asked: string[] = [];
  const lookup = (id: string): Promise<Array<[number, number]>> => {
    asked.push(id);
    return Promise.resolve(ledger.get(id) ?? []);
  };
  assert.deepEqual(await storedLinesOf(src, lookup), [[1, 25]]);
  assert.equal(asked.length, 30, 'its own identity and 29 earlier ones');

  // Once its own ranges cover the lines earlier identities could add, they are not looked up.
  ledger.set(src.identity(), [[1, 10], [11, 30]]);
  asked.length = 0;
  assert.deepEqual(await storedLinesOf(src, lookup), [[1, 30]]);
  assert.deepEqual(asked, [src.identity()]);
});

test('mergeRanges', () => {
  assert.deepEqual(mergeRanges([]), []);
  assert.deepEqual(mergeRanges([[21, 25], [1, 10], [11, 20], [40, 50], [45, 47]]), [[1, 25], [40, 50]]);
});
