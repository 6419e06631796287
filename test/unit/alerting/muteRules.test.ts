/** Mute rules over suppression_rules-shaped rows (pure). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileMuteRules, createMuteRuleSet, type SuppressionRule } from '../../../services/alerting/muteRules.ts';
import { makeAlert } from '../../support/alerts.ts';

const NOW = Date.parse('2026-01-05T12:00:00Z');
const rule = (over: Partial<SuppressionRule>): SuppressionRule => ({ id: 'r1', type: 'mute', cidr: '', user_agent: '', alert_kind: '', image_id: '', expires_at: null, ...over });
const alert = makeAlert();

describe('mute rules', () => {
  test('an empty rule (every field empty, no expiry) mutes everything', () => {
    assert.equal(compileMuteRules([rule({})]).match(alert, NOW), 'r1');
  });

  test('each non-empty field must match', () => {
    const cases: Array<[Partial<SuppressionRule>, boolean]> = [
      [{ cidr: '203.0.113.0/24' }, true],
      [{ cidr: '198.51.100.0/24' }, false],
      [{ cidr: '::ffff:203.0.113.0/120' }, true],
      [{ user_agent: '^python-requests/' }, true],
      [{ user_agent: 'curl' }, false],
      [{ alert_kind: 'bulk-harvest' }, true],
      [{ alert_kind: 'campaign' }, false],
      [{ image_id: 'rijks-SK-A-2344' }, true],
      [{ image_id: 'other' }, false],
      [{ cidr: '203.0.113.0/24', alert_kind: 'campaign' }, false],
      [{ cidr: '203.0.113.0/24', user_agent: 'python', image_id: 'rijks-SK-C-5', alert_kind: 'bulk-harvest' }, true],
    ];
    for (const [over, muted] of cases) assert.equal(compileMuteRules([rule(over)]).match(alert, NOW) !== null, muted, JSON.stringify(over));
  });

  test('a CIDR rule mutes a campaign only when all its addresses are inside', () => {
    const campaign = makeAlert({ kind: 'campaign', client: { ip: '203.0.113.7', ips: ['203.0.113.7', '203.0.113.9', '198.51.100.4'] } });
    assert.equal(compileMuteRules([rule({ cidr: '203.0.113.0/24' })]).match(campaign, NOW), null);
    assert.equal(compileMuteRules([rule({ cidr: '0.0.0.0/0' })]).match(campaign, NOW), 'r1');
  });

  test('expiry: ISO, ClickHouse text (UTC) and epoch ms; expired rules do not mute', () => {
    for (const expires_at of ['2026-01-05T12:00:01Z', '2026-01-05 12:00:01.000', NOW + 1000]) {
      const c = compileMuteRules([rule({ expires_at })]);
      assert.equal(c.match(alert, NOW), 'r1', String(expires_at));
      assert.equal(c.match(alert, NOW + 1000), null, `${String(expires_at)} has expired at its own time`);
    }
  });

  test('allow rules and deleted rules are ignored; bad rows are skipped and reported', () => {
    const c = compileMuteRules([
      rule({ id: 'allow', type: 'allow' }),
      rule({ id: 'gone', deleted: 1 }),
      rule({ id: 'bad-cidr', cidr: '300.1.2.3/8' }),
      rule({ id: 'bad-re', user_agent: '(' }),
      rule({ id: 'bad-time', expires_at: 'soon' }),
      rule({ id: 'good', alert_kind: 'bulk-harvest' }),
    ]);
    assert.equal(c.size, 1);
    assert.deepEqual(
      c.invalid.map((i) => i.id),
      ['bad-cidr', 'bad-re', 'bad-time'],
    );
    assert.equal(c.match(alert, NOW), 'good');
  });

  test('a rule set can be replaced while in use', () => {
    const set = createMuteRuleSet();
    assert.equal(set.isMuted(alert, NOW), false);
    set.replace([rule({ image_id: 'rijks-SK-C-5' })]);
    assert.equal(set.isMuted(alert, NOW), true);
  });
});
