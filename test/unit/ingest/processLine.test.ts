/**
 * The one line step (services/ingest/processLine.ts): a line becomes its tile_requests row (the
 * 24-column TSV encoding, pinned here for every protocol), or its dead letter with the reason, and
 * the detector event; under each client key; in every built-in log format; and nothing is written
 * for a line an earlier run stored, while the event is still returned.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createParser } from '../../../services/core/logformat/createParser.ts';
import { DEFAULT_RECOGNISE_OPTIONS } from '../../../services/core/protocols/options.ts';
import { emptyCatalog } from '../../../services/ingest/catalog.ts';
import { createJsonParser } from '../../../services/core/logformat/createJsonParser.ts';
import { createNormalizer } from '../../../services/ingest/normalizer.ts';
import { processLine, type ClientKeyMode, type LineStep } from '../../../services/ingest/processLine.ts';
import { TILE_REQUEST_COLUMNS } from '../../../services/store/tileRequestRows.ts';
import { TsvBuffer } from '../../../services/store/tsvBuffer.ts';

const NOW = Date.UTC(2026, 2, 3);
const UA = 'python-requests/2.31.0';

function stepFor(format: string, clientKey: ClientKeyMode = 'ip'): LineStep {
  const normalizer = createNormalizer({ parse: createParser({ format }).parse, recognise: DEFAULT_RECOGNISE_OPTIONS, catalog: emptyCatalog(), now: () => NOW });
  return { normalizer, clientKey, rows: new TsvBuffer(), dead: new TsvBuffer(), now: () => NOW };
}

const lineAt = (i: number, target: string, ip = '203.0.113.5', ua = UA): string =>
  `${ip} - - [02/Mar/2026:14:00:${String(i).padStart(2, '0')} +0000] "GET ${target} HTTP/1.1" 200 1234 "https://museum.example/art" "${ua}"`;

const rowsOf = (b: TsvBuffer): string[] => b.take().toString('utf8').split('\n').filter((l) => l !== '');

describe('processLine', () => {
  it('encodes a row of every protocol in the 24 tile_requests columns', () => {
    const step = stepFor('combined');
    const targets = [
      '/iiif/2/ms-17/1024,512,512,512/512,/0/default.jpg',
      '/iiif/3/ms-17/full/max/0/default.jpg',
      '/iiif/2/ms-17/info.json',
      '/dz/painting_files/14/3_4.jpg',
      '/zoomify/plate/TileGroup0/3-2-1.jpg',
      '/tiles/7/64/42.png',
      '/tms/1.0.0/base/7/64/85.png',
      '/wmts/1.0.0/base/default/GoogleMapsCompatible/7/42/64.png',
      '/iipsrv.fcgi?FIF=/im/plate.tif&JTL=3,5',
      '/art/ms-17',
    ];
    targets.forEach((t, i) => assert.ok(processLine(step, lineAt(i, t), { source: 'a.log', line: i + 1, partition: -1 }, true, true).ok));
    const head = '\t::ffff:203.0.113.5\t203.0.113.5\tGET\t200\t1234\t\t';
    const tail = '\thttps://museum.example/art\tpython-requests/2.31.0\t';
    // ts, client, client_key, method, status, bytes, host | path | referer, user_agent | protocol … scale, source, partition, line
    assert.deepEqual(rowsOf(step.rows), [
      `1772460000${head}${targets[0]}${tail}iiif2\ttile\tms-17\t-1\t-1\t-1\t1024\t512\t512\t512\t1\ta.log\t-1\t1`,
      // The whole image at its learned extent (the furthest tile seen so far).
      `1772460001${head}${targets[1]}${tail}iiif3\tfull\tms-17\t-1\t-1\t-1\t0\t0\t1536\t1024\t1\ta.log\t-1\t2`,
      `1772460002${head}${targets[2]}${tail}iiif2\tinfo\tms-17\t-1\t-1\t-1\t0\t0\t0\t0\t0\ta.log\t-1\t3`,
      `1772460003${head}${targets[3]}${tail}dzi\ttile\t/dz/painting\t14\t3\t4\t768\t1024\t256\t256\t1\ta.log\t-1\t4`,
      `1772460004${head}${targets[4]}${tail}zoomify\ttile\t/zoomify/plate\t3\t2\t1\t512\t256\t256\t256\t1\ta.log\t-1\t5`,
      `1772460005${head}${targets[5]}${tail}xyz\ttile\t/tiles\t7\t64\t42\t16384\t10752\t256\t256\t1\ta.log\t-1\t6`,
      // TMS counts rows from the bottom: stored in XYZ numbering (2^7 − 1 − 85 = 42).
      `1772460006${head}${targets[6]}${tail}tms\ttile\t/tms/1.0.0/base\t7\t64\t42\t16384\t10752\t256\t256\t1\ta.log\t-1\t7`,
      `1772460007${head}${targets[7]}${tail}wmts\ttile\t/wmts/1.0.0/base/default/GoogleMapsCompatible\t7\t64\t42\t16384\t10752\t256\t256\t1\ta.log\t-1\t8`,
      // IIP JTL=resolution,index: the index is linear until the image width is known.
      `1772460008${head}${targets[8]}${tail}iip\ttile\t/im/plate.tif\t3\t5\t-1\t0\t0\t0\t0\t0\ta.log\t-1\t9`,
      `1772460009${head}${targets[9]}${tail}none\tpage\t\t-1\t-1\t-1\t0\t0\t0\t0\t0\ta.log\t-1\t10`,
    ]);
    for (const r of rowsOf(step.rows)) assert.equal(r.split('\t').length, TILE_REQUEST_COLUMNS.length);
  });

  it('stores the address or address|user agent as the client key, IPv6 as is and IPv4 mapped', () => {
    for (const [mode, key] of [['ip', '2001:db8::7'], ['ip+ua', `2001:db8::7|${UA}`]] as const) {
      const step = stepFor('combined', mode);
      const p = processLine(step, lineAt(0, '/tiles/7/64/42.png', '2001:db8::7'), { source: 'a.log', line: 1, partition: -1 }, true, true);
      assert.ok(p.ok);
      assert.equal(p.clientKey, key);
      const cols = rowsOf(step.rows)[0]!.split('\t');
      assert.deepEqual([cols[1], cols[2]], ['2001:db8::7', key]);
      assert.equal(p.event.ip, '2001:db8::7');
    }
  });

  it('gives the same row in every built-in format, less what a format does not log', () => {
    const t = Date.UTC(2026, 2, 2, 14);
    const target = '/dz/painting_files/14/3_4.jpg';
    const lines: Record<string, string> = {
      combined: lineAt(0, target),
      apache: lineAt(0, target),
      combined_xff: `${lineAt(0, target)} "198.51.100.9"`,
      common: `203.0.113.5 - - [02/Mar/2026:14:00:00 +0000] "GET ${target} HTTP/1.1" 200 1234`,
    };
    const rows: Record<string, string[]> = {};
    for (const [format, line] of Object.entries(lines)) {
      const step = stepFor(format);
      assert.ok(processLine(step, line, { source: 'x', line: 1, partition: -1 }, true, true).ok, format);
      rows[format] = rowsOf(step.rows)[0]!.split('\t');
    }
    const json = stepFor('combined');
    const record = createJsonParser({})(JSON.stringify({ time: new Date(t).toISOString(), remote_addr: '203.0.113.5', request: `GET ${target} HTTP/1.1`, status: 200, body_bytes_sent: 1234, http_referer: 'https://museum.example/art', http_user_agent: UA }));
    assert.ok(processLine(json, '{…}', { source: 'x', line: 1, partition: -1 }, true, true, record).ok);
    rows.json = rowsOf(json.rows)[0]!.split('\t');
    for (const format of ['apache', 'combined_xff', 'json']) assert.deepEqual(rows[format], rows.combined, format);
    const noContext = [...rows.combined!];
    noContext[8] = '';
    noContext[9] = '';
    assert.deepEqual(rows.common, noContext, 'common has no Referer or user agent');
  });

  it('writes a dead letter with its reason for a line that cannot be stored, and no row', () => {
    const step = stepFor('combined');
    const bad = processLine(step, 'not a log line', { source: 'a.log', line: 7, partition: -1 }, true, true);
    assert.equal(bad.ok, false);
    const outOfRange = processLine(step, lineAt(0, '/tiles/1/0/0.png').replace('" 200 ', '" 1200 '), { source: 'a.log', line: 8, partition: -1 }, true, true);
    assert.equal(outOfRange.ok, false);
    assert.equal(step.rows.rows, 0);
    const dead = rowsOf(step.dead).map((r) => r.split('\t'));
    assert.deepEqual(dead.map((d) => [d[0], d[1], d[2], d[3], d[5]]), [
      [String(NOW / 1000), 'a.log', '-1', '7', 'not a log line'],
      [String(NOW / 1000), 'a.log', '-1', '8', lineAt(0, '/tiles/1/0/0.png').replace('" 200 ', '" 1200 ')],
    ]);
    assert.ok(!bad.ok && dead[0]![4] === bad.reason && bad.reason.length > 0);
    assert.ok(!outOfRange.ok && /status/.test(outOfRange.reason), outOfRange.ok ? '' : outOfRange.reason);
  });

  it('writes nothing for a line already stored, and still returns its event', () => {
    const step = stepFor('combined');
    const p = processLine(step, lineAt(0, '/tiles/7/64/42.png'), { source: 'a.log', line: 1, partition: -1 }, false, false);
    assert.ok(p.ok);
    assert.equal(p.event.request.kind, 'tile');
    assert.equal(processLine(step, 'garbage', { source: 'a.log', line: 2, partition: -1 }, false, false).ok, false);
    assert.equal(step.rows.rows + step.dead.rows, 0);
  });
});
