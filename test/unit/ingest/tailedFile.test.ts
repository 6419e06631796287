/** TailedFile (services/ingest/follow/tailedFile.ts): complete lines only, byte offsets, heads, ranges read again. */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HEAD_BYTES, READ_CHUNK_BYTES, sha256, TailedFile } from '../../../services/ingest/follow/tailedFile.ts';

function tmpFile(t: { after: (fn: () => void) => void }, content: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'tw-tailed-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = join(dir, 'access.log');
  writeFileSync(p, content);
  return p;
}

test('only complete lines are consumed; a partial line waits for its newline; offsets and numbers continue', async (t) => {
  const p = tmpFile(t, 'one\ntwo\r\nthr');
  const f = await TailedFile.open(p, 0);
  try {
    const a = await f.readLines();
    assert.deepEqual(
      a.map((l) => [l.text, l.start, l.end, l.lineNo]),
      [
        ['one', 0, 4, 1],
        ['two', 4, 9, 2],
      ],
    );
    assert.equal(f.offset, 9);
    assert.deepEqual(await f.readLines(), [], 'the partial line is not read');
    appendFileSync(p, 'ee\n\nfour\n');
    const b = await f.readLines();
    assert.deepEqual(
      b.map((l) => [l.text, l.start, l.end, l.lineNo]),
      [
        ['three', 9, 15, 3],
        ['', 15, 16, 4],
        ['four', 16, 21, 5],
      ],
    );
    assert.deepEqual(f.lastLine, Buffer.from('four\n'));
    // A stored range read again, without moving the reader.
    assert.deepEqual(
      (await f.readRange(4, 16, 2)).map((l) => l.text),
      ['two', 'three', ''],
    );
    assert.equal(f.offset, 21);
    assert.equal(f.nextLine, 6);
  } finally {
    await f.close();
  }
});

test('the head is the first line, unknown until it is complete (or HEAD_BYTES long); the line before an offset is checked by its hash', async (t) => {
  const p = tmpFile(t, 'first line');
  const f = await TailedFile.open(p, 0);
  try {
    assert.equal(await f.readHead(), null);
    appendFileSync(p, '\nsecond\n');
    assert.equal(await f.readHead(), sha256('first line\n'));
    assert.deepEqual(await f.lineBeforeHashes(18, sha256('second\n')), Buffer.from('second\n'));
    assert.equal(await f.lineBeforeHashes(18, sha256('other\n')), null);
    assert.equal(await f.lineBeforeHashes(17, sha256('second\n')), null, 'not at a line end');
  } finally {
    await f.close();
  }
  const long = tmpFile(t, 'x'.repeat(HEAD_BYTES + 10));
  const g = await TailedFile.open(long, 0);
  try {
    assert.equal(await g.readHead(), sha256('x'.repeat(HEAD_BYTES)));
  } finally {
    await g.close();
  }
});

test('a line longer than a read chunk is cut at the chunk (it would never be read otherwise)', async (t) => {
  const p = tmpFile(t, Buffer.alloc(READ_CHUNK_BYTES + 5, 'a'));
  const f = await TailedFile.open(p, 0);
  try {
    const lines = await f.readLines();
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.end, READ_CHUNK_BYTES);
    assert.deepEqual(await f.readLines(), [], 'the 5 bytes after it wait for their newline');
  } finally {
    await f.close();
  }
});
