/** CampaignState (core/hunts/campaignState.ts): the bookkeeping the incremental campaign hunt rests on. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CampaignState } from '../../../services/core/hunts/campaignState.ts';

test('campaign state: a bucket removed with the rows it was added with leaves nothing; a row never added is refused', () => {
  const s = new CampaignState(1);
  const row = (client: string, x: number, band = 0) => ({ bucket: 0, imageId: 'i', band, client, net: 'net:10.0.0.0/24', userAgent: 'ua', rectX: x, rectY: 0, rectW: 512, rectH: 512, firstTs: 0, lastTs: 0 });
  const rows = [row('10.0.0.1', 0), row('10.0.0.2', 512), row('10.0.0.3', 1024), row('10.0.0.4', 1536), row('10.0.0.4', 1536, 3)];
  s.add(rows, [{ bucket: 0, imageId: 'i', width: 2048, height: 512 }]);
  s.add([row('10.0.0.1', 0)], []); // the same pair in a second bucket
  const cands = s.candidates(['i'], new Map(), 1024, { minMembers: 4, minUnionCoverage: 0.9 });
  // one network group and one user-agent group, each: 4 members, the whole 2048 × 512 image, no overlap
  assert.equal(cands.length, 2);
  for (const c of cands) {
    assert.deepEqual(c.members, ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    assert.equal(c.unionCoverage, 1);
    assert.equal(c.overlap, 1);
    assert.equal(c.longEdge, 2048);
  }
  assert.equal(s.size, 8, 'coarse rows only count for extents');
  s.remove([row('10.0.0.1', 0)], 600_000, 1_200_000);
  assert.equal(s.candidates(['i'], new Map(), 1024, { minMembers: 4, minUnionCoverage: 0.9 }).length, 2, 'the pair is still in the other bucket');
  s.remove(rows, 0, 600_000);
  assert.equal(s.size, 0);
  assert.deepEqual(s.candidates(['i'], new Map(), 1024, { minMembers: 1, minUnionCoverage: 0 }), []);
  assert.throws(() => s.remove([row('10.0.0.9', 0)], 0, 600_000), /never added/);
});
