/**
 * The ASN prefixes a data version turns into are cached per user (services/network/asnStore.ts), so a
 * second data directory inserts the cached file instead of converting the ranges again: the same
 * rows, the same version row, and a cache that a different data version never reads.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { syncAsnData } from '../../services/network/asnStore.ts';
import { migrate } from '../../services/store/migrate.ts';
import { openStore, type Store } from '../../services/store/openStore.ts';
import { readRows } from '../../services/store/sql.ts';
import { tempDir } from '../support/cli.ts';

const rowsOf = async (store: Store): Promise<string[]> =>
  (await readRows<{ r: string }>(store.client, `SELECT concat(prefix, ' ', toString(asn), ' ', org, ' ', toString(hosting_asn)) AS r FROM asn_prefixes ORDER BY r`)).map((x) => x.r);

test('a second data directory gets the same ASN prefixes from the per-user cache', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t, 'asn-cache');
  const data = join(dir, 'asn');
  mkdirSync(data, { recursive: true });
  // Ranges that are not CIDR-aligned split into several prefixes each.
  writeFileSync(join(data, 'asn-ipv4.csv'), ['3.1.0.3,3.1.7.200,14618,"Amazon.com, Inc."', '192.0.2.0,192.0.2.255,64501,Example Broadband'].join('\n') + '\n');
  writeFileSync(join(data, 'asn-ipv6.csv'), '2a01:4f8::7,2a01:4f8:0:5::ffff,24940,Hetzner Online GmbH\n');
  const cache = join(dir, 'cache');
  const before = process.env.TILEWATCH_CACHE_DIR;
  process.env.TILEWATCH_CACHE_DIR = cache;
  const settings = { asnDatabase: data, hostingAsns: [] };
  try {
    // chDB holds one data directory per process: the two stores one after the other.
    const a = await openStore({ kind: 'embedded', dataDir: join(dir, 'a') });
    let first: string[];
    try {
      await migrate(a.client);
      const r = await syncAsnData(a, settings);
      assert.ok(r.loaded && r.prefixes > 3, `converted and stored (${r.prefixes} prefixes)`);
      first = await rowsOf(a);
    } finally {
      await a.close();
    }
    const files = readdirSync(cache);
    assert.equal(files.filter((f) => f.endsWith('.tsv')).length, 1, `one prefix file cached: ${files.join(', ')}`);
    assert.equal(files.filter((f) => f.endsWith('.json')).length, 1, 'with its metadata');
    // Proof that the second store reads the cache: a changed cached row shows up there.
    const tsv = join(cache, files.find((f) => f.endsWith('.tsv'))!);
    writeFileSync(tsv, readFileSync(tsv, 'utf8').replace('Example Broadband', 'Example Broadband (cached)'));
    const b = await openStore({ kind: 'embedded', dataDir: join(dir, 'b') });
    try {
      await migrate(b.client);
      const r = await syncAsnData(b, settings);
      assert.equal(r.loaded, true);
      const second = await rowsOf(b);
      assert.equal(second.length, first.length, 'as many prefixes');
      assert.deepEqual(second.map((x) => x.replace(' (cached)', '')), first, 'the same prefixes');
      assert.ok(second.some((x) => x.includes('(cached)')), 'inserted from the cache, not converted again');
      const [v] = await readRows<{ prefixes: number }>(b.client, 'SELECT prefixes FROM asn_data FINAL WHERE id = 1');
      assert.equal(v?.prefixes, first.length, 'the version row counts them');
    } finally {
      await b.close();
    }
    // A different data version (another hosting rule) never reads that file.
    const c = await openStore({ kind: 'embedded', dataDir: join(dir, 'c') });
    try {
      await migrate(c.client);
      await syncAsnData(c, { asnDatabase: data, hostingAsns: [64501] });
      const third = await rowsOf(c);
      assert.ok(!third.some((x) => x.includes('(cached)')), 'converted afresh for the other version');
      assert.ok(third.some((x) => x.includes('Example Broadband 64501')), 'with its own hosting rule');
    } finally {
      await c.close();
    }
    assert.ok(existsSync(tsv));
  } finally {
    if (before === undefined) delete process.env.TILEWATCH_CACHE_DIR;
    else process.env.TILEWATCH_CACHE_DIR = before;
  }
});
