import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { splitStatements } from '../../../services/store/migrate.ts';
import { tsvDateTime64, tsvString } from '../../../services/store/tsv.ts';
import { TsvBuffer } from '../../../services/store/tsvBuffer.ts';

/** ClickHouse's TabSeparated unescaping, written independently of the encoder. */
function unescapeTsv(s: string): string {
  const map: Record<string, string> = { t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f', '\\': '\\', "'": "'" };
  return s.replace(/\\(.)/g, (_, c: string) => map[c] ?? c);
}

describe('TabSeparated encoding', () => {
  it('escapes the characters that would break a field or a row', () => {
    assert.equal(tsvString('a\tb\nc\\d\re'), 'a\\tb\\nc\\\\d\\re');
    assert.equal(tsvString('plain /iiif/2/x/full/max/0/default.jpg'), 'plain /iiif/2/x/full/max/0/default.jpg');
  });

  it('round-trips any string and never leaves a raw tab or newline', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const e = tsvString(s);
        assert.ok(!/[\t\n]/.test(e));
        assert.equal(unescapeTsv(e), s);
      }),
    );
  });

  it('formats DateTime64(3) as seconds with a millisecond fraction', () => {
    assert.equal(tsvDateTime64(1_772_409_600_000), '1772409600');
    assert.equal(tsvDateTime64(1_772_409_600_045), '1772409600.045');
  });

  it('writes rows into a growing buffer, counting rows and resetting on take()', () => {
    const b = new TsvBuffer(8);
    b.str('x\ty').num(42).str('ünïcode', true);
    b.num('1.5').str('', true);
    assert.equal(b.rows, 2);
    assert.equal(b.take().toString('utf8'), 'x\\ty\t42\tünïcode\n1.5\t\n');
    assert.equal(b.rows, 0);
    assert.equal(b.byteLength, 0);
  });
});

describe('migration files', () => {
  it('split into statements at semicolons that end a line, dropping comment lines', () => {
    const sql = '-- a comment; with a semicolon\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\nCREATE VIEW v AS\nSELECT 1;\n';
    assert.deepEqual(splitStatements(sql), ['CREATE TABLE a (x UInt8) ENGINE = Memory', 'CREATE VIEW v AS\nSELECT 1']);
  });
});
