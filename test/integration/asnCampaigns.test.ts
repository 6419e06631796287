/**
 * Campaigns grouped by hosting network (the campaign hunt's `asn:<n>` groups; docs/network-context.md),
 * on generated traffic and a generated ASN table:
 * - a harvest split between 16 addresses in 8 /24s of one hosting provider's AS, 8 user agents
 *   (2 members each): no /24 and no user agent reaches the 4 members a campaign needs, the AS does;
 * - the same split behaviour from 16 addresses of one residential AS: no AS group (residential
 *   networks never form one), so nobody is accused;
 * - 16 people behind a corporate VPN egress in a cloud provider's AS, looking at the same images like
 *   people (item page, coarse levels first, zooming into the same details): they are grouped by their
 *   AS, but together never cover most of an image at high resolution, so no candidate forms.
 * The replay with hunts raises exactly one campaign alert, by AS, naming the harvester's addresses;
 * the SQL hunt and the incremental one give the same candidates on every window.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Alert } from '../../services/core/alert.ts';
import { openStore } from '../../services/store/openStore.ts';
import { readRows } from '../../services/store/sql.ts';
import { compareCampaigns } from '../support/incrementalCompare.ts';
import { describeRun, runCli, tempDir } from '../support/cli.ts';
import { combined, iiifInfo, iiifTile, rng, T0 } from '../support/logs.ts';

const W = 8000;
const H = 6000;
const T = 256;
const COLS = Math.ceil(W / T);
const ROWS = Math.ceil(H / T);
const UAS = Array.from({ length: 8 }, (_, i) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/12${i}.0 Safari/537.36`);

/** 16 addresses, two in each of eight /24s of `a.b` (third octets spread). */
const spread = (a: number, b: number): string[] => Array.from({ length: 16 }, (_, i) => `${a}.${b + (i % 8)}.${17 + 23 * (i % 8)}.${10 + Math.floor(i / 8) * 100}`);

/** A coarse IIIF tile: the region `factor` tiles wide scaled to one tile. */
const scaledTile = (id: string, col: number, row: number, factor: number): string => {
  const x = col * T * factor;
  const y = row * T * factor;
  const w = Math.min(T * factor, W - x);
  const h = Math.min(T * factor, H - y);
  return `/iiif/2/${id}/${x},${y},${w},${h}/${Math.ceil(w / factor)},/0/default.jpg`;
};

interface Ev {
  ts: number;
  line: string;
}

/** Every deepest tile of the images, split round-robin between the addresses; no Referer; 2–4 s apart per address. */
function splitHarvest(ips: readonly string[], images: readonly string[], start: number, seed: number): Ev[] {
  const rand = rng(seed);
  const clock = ips.map(() => start + Math.floor(rand() * 30_000));
  const out: Ev[] = [];
  let k = 0;
  for (const id of images)
    for (let r = 0; r < ROWS; r++)
      for (let c = 0; c < COLS; c++, k++) {
        const m = k % ips.length;
        clock[m]! += 2000 + Math.floor(rand() * 2000);
        out.push({ ts: clock[m]!, line: combined({ ip: ips[m]!, ts: clock[m]!, path: iiifTile(id, W, H, c, r, T), bytes: 20_000, ua: UAS[m % UAS.length]! }) });
      }
  return out;
}

/** People on one egress network: item page, info.json, the overview, then the same salient details at full resolution. */
function viewers(ips: readonly string[], images: readonly string[], start: number, seed: number): Ev[] {
  const rand = rng(seed);
  const out: Ev[] = [];
  ips.forEach((ip, v) => {
    let ts = start + v * 45_000;
    for (const id of images) {
      const page = `https://museum.example/objects/${id}`;
      const push = (path: string, referer = page): void => {
        ts += 300 + Math.floor(rand() * 1500);
        out.push({ ts, line: combined({ ip, ts, path, referer, bytes: 15_000 }) });
      };
      push(`/objects/${id}`, '');
      push(iiifInfo(id));
      for (let r = 0; r < Math.ceil(ROWS / 8); r++) for (let c = 0; c < Math.ceil(COLS / 8); c++) push(scaledTile(id, c, r, 8));
      for (let r = 0; r < Math.ceil(ROWS / 4); r++) for (let c = 0; c < Math.ceil(COLS / 4); c++) push(scaledTile(id, c, r, 4));
      // The details everyone looks at (the same centre), with a little wander.
      const c0 = 12 + Math.floor(rand() * 3);
      const r0 = 9 + Math.floor(rand() * 3);
      for (let dr = 0; dr < 4; dr++) for (let dc = 0; dc < 5; dc++) push(iiifTile(id, W, H, c0 + dc, r0 + dr, T));
      ts += 60_000 + Math.floor(rand() * 120_000);
    }
  });
  return out;
}

function writeAsnData(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'asn-ipv4.csv'),
    [
      '3.64.0.0,3.79.255.255,16509,"Amazon.com, Inc."',
      '20.40.0.0,20.47.255.255,8075,Microsoft Corporation',
      '73.0.0.0,73.255.255.255,7922,"Comcast Cable Communications, LLC"',
    ].join('\n') + '\n',
  );
}

test('campaigns by hosting network: the spread harvester is found by its AS; the same split from a residential AS and people behind a cloud VPN are not', { timeout: 600_000 }, async (t) => {
  const dir = tempDir(t, 'asn-campaign');
  const asnDir = join(dir, 'asn');
  writeAsnData(asnDir);
  const harvester = spread(3, 64);
  const residential = spread(73, 20);
  const vpn = Array.from({ length: 16 }, (_, i) => `20.40.${100 + (i % 4)}.${20 + i}`);
  const start = T0 + 3_600_000;
  const events = [
    ...splitHarvest(harvester, ['asn-harvest-1', 'asn-harvest-2', 'asn-harvest-3'], start, 1),
    ...splitHarvest(residential, ['resi-1', 'resi-2', 'resi-3'], start + 600_000, 2),
    ...viewers(vpn, ['vpn-1', 'vpn-2', 'vpn-3'], start, 3),
  ].sort((a, b) => a.ts - b.ts);
  const log = join(dir, 'access.log');
  writeFileSync(log, events.map((e) => `${e.line}\n`).join(''));
  const config = join(dir, 'tilewatch.json');
  writeFileSync(config, JSON.stringify({ network: { asnDatabase: asnDir } }));
  const data = join(dir, 'data');
  const out = join(dir, 'alerts.jsonl');
  const run = await runCli(['replay', log, '--config', config, '--data', data, '--alerts-out', out, '--quiet'], { timeoutMs: 300_000 });
  assert.equal(run.code, 0, describeRun(run));

  const alerts = readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Alert);
  const campaigns = alerts.filter((a) => a.kind === 'campaign');
  assert.deepEqual([...new Set(campaigns.map((a) => a.subject))], ['asn:16509'], `campaign alerts: ${JSON.stringify(campaigns.map((a) => [a.subject, a.client.ips.length]))}`);
  const last = campaigns.at(-1)!;
  assert.deepEqual([...last.client.ips].sort(), [...harvester].sort(), 'the alert names the harvester, all of it');
  assert.ok(last.reasons.some((r) => r.signal === 'shared-hosting-network' && /AS16509, across 8 \/24/.test(r.text)), JSON.stringify(last.reasons));
  assert.deepEqual(last.client.networks?.map((n) => [n.asn, n.kind, n.addresses]), [[16509, 'hosting', 16]]);
  const accused = new Set(alerts.filter((a) => a.kind !== 'image-exposure').flatMap((a) => [a.client.ip, ...a.client.ips]));
  for (const ip of [...residential, ...vpn]) assert.equal(accused.has(ip), false, `${ip} accused`);

  // The SQL hunt and the incremental one agree on every window, the AS groups included.
  const store = await openStore({ kind: 'embedded', dataDir: data });
  try {
    const STEP = 600_000;
    const ends: number[] = [];
    for (let e = Math.ceil(start / STEP) * STEP; e <= events.at(-1)!.ts + 2 * STEP; e += STEP) ends.push(e);
    const res = await compareCampaigns(store.client, ends, {
      lookbackMs: 2 * 3_600_000,
      stepMs: STEP,
      exclusions: { cidrs: [], userAgentPatterns: [] },
      protectedScale: 0.5,
      openDataLongEdge: 2048,
      gates: { minMembers: 4, minUnionCoverage: 0.8 },
    });
    let asnGroups = 0;
    for (const w of res) {
      assert.deepEqual(w.incremental, w.sql, `window ending ${new Date(w.windowEnd).toISOString()}`);
      asnGroups += w.sql.filter((r) => r.includes('"group":"asn:')).length;
    }
    assert.ok(asnGroups > 0, 'AS groups were among the candidates compared');
    // The VPN crowd is grouped by its AS too, but people looking at the same details never cover
    // most of an image together: no candidate.
    const [vpnAsn] = await readRows<{ a: number }>(store.client, `SELECT dictGetOrDefault('asn_lookup', 'hosting_asn', toIPv6({ip:String}), toUInt32(0)) AS a`, { ip: vpn[0]! });
    assert.equal(vpnAsn?.a, 8075);
    assert.ok(!res.some((w) => w.sql.some((r) => r.includes('"group":"asn:8075"'))));
  } finally {
    await store.close();
  }
});
