import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IncidentCorrelator, incidentId } from '../../../services/core/incidents/incidentCorrelator.ts';
import type { Alert } from '../../../services/core/alert.ts';
import { makeAlert } from '../../support/alerts.ts';

const id = (n: number): string => `tw-${String(n).padStart(20, '0')}`;

test('a campaign and its members\' per-address alerts are one incident that pages once, then on escalation only', () => {
  const c = new IncidentCorrelator();
  const members = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
  const m1 = c.assign(makeAlert({ id: id(1), severity: 'medium', client: { ip: members[0], ips: [members[0]!] } }));
  assert.equal(m1.notice, 'opened');
  assert.equal(m1.alert.incident?.notice, 'opened', 'the version says it paged');
  assert.equal(m1.alert.incident?.id, incidentId(id(1)));
  const camp = c.assign(makeAlert({ id: id(2), kind: 'campaign', severity: 'medium', client: { ip: members[0], ips: members } }));
  assert.equal(camp.notice, null, 'joins the member\'s incident without paging');
  const m2 = c.assign(makeAlert({ id: id(3), severity: 'low', client: { ip: members[2], ips: [members[2]!] } }));
  assert.equal(m2.notice, null, 'another member joins through the campaign');
  assert.equal(m2.alert.incident?.alerts, 3);
  const upd = c.assign(makeAlert({ id: id(2), kind: 'campaign', version: 2, severity: 'medium', client: { ip: members[0], ips: members } }));
  assert.equal(upd.notice, null, 'an update that does not raise the severity does not page');
  const esc = c.assign(makeAlert({ id: id(2), kind: 'campaign', version: 3, severity: 'critical', client: { ip: members[0], ips: members } }));
  assert.equal(esc.notice, 'escalated');
  assert.equal(esc.alert.incident?.severity, 'critical');
  const crit = c.assign(makeAlert({ id: id(3), version: 2, severity: 'critical', client: { ip: members[2], ips: [members[2]!] } }));
  assert.equal(crit.notice, null, 'already urgent');
  assert.ok([m1, camp, m2, upd, esc, crit].every((x) => x.alert.incident?.id === incidentId(id(1))));
  assert.equal(c.openIncidents(), 1);
});

test('unrelated actors are separate incidents; an incident resolves when its last alert does', () => {
  const c = new IncidentCorrelator();
  const a = c.assign(makeAlert({ id: id(1), client: { ip: '203.0.113.1', ips: ['203.0.113.1'] } }));
  const b = c.assign(makeAlert({ id: id(2), client: { ip: '192.0.2.2', ips: ['192.0.2.2'], subnet: '192.0.2.0/24' } }));
  assert.notEqual(a.alert.incident?.id, b.alert.incident?.id);
  assert.deepEqual([a.notice, b.notice], ['opened', 'opened']);
  const slow = c.assign(makeAlert({ id: id(3), kind: 'low-and-slow', client: { ip: '203.0.113.1', ips: ['203.0.113.1'] } }));
  assert.equal(slow.alert.incident?.id, a.alert.incident?.id);
  const r1 = c.assign(makeAlert({ id: id(1), version: 2, status: 'resolved' }));
  assert.equal(r1.notice, null, 'one of two alerts resolved: still open');
  assert.equal(r1.alert.incident?.status, 'open');
  const r3 = c.assign(makeAlert({ id: id(3), kind: 'low-and-slow', version: 2, status: 'resolved', client: { ip: '203.0.113.1', ips: ['203.0.113.1'] } }));
  assert.equal(r3.notice, 'resolved');
  assert.equal(r3.alert.incident?.status, 'resolved');
  // The same address later is a new incident.
  const again = c.assign(makeAlert({ id: id(4), client: { ip: '203.0.113.1', ips: ['203.0.113.1'] } }));
  assert.equal(again.notice, 'opened');
  assert.equal(again.alert.incident?.id, incidentId(id(4)));
});

test('low incidents page nobody until they reach medium; high after critical is one urgent band; an unannounced incident resolves quietly', () => {
  const c = new IncidentCorrelator();
  const ip = { ip: '198.51.100.77', ips: ['198.51.100.77'], subnet: '198.51.100.0/24' };
  assert.equal(c.assign(makeAlert({ id: id(1), severity: 'low', client: ip })).notice, null);
  assert.equal(c.assign(makeAlert({ id: id(1), version: 2, severity: 'medium', client: ip })).notice, 'opened');
  assert.equal(c.assign(makeAlert({ id: id(1), version: 3, severity: 'critical', client: ip })).notice, 'escalated');
  const quiet = new IncidentCorrelator();
  const other = { ip: '192.0.2.77', ips: ['192.0.2.77'], subnet: '192.0.2.0/24' };
  assert.equal(quiet.assign(makeAlert({ id: id(2), severity: 'low', client: other })).notice, null);
  const r = quiet.assign(makeAlert({ id: id(2), version: 2, severity: 'low', status: 'resolved', client: other }));
  assert.equal(r.notice, null);
  assert.equal(r.alert.incident?.status, 'resolved');
  const loud = new IncidentCorrelator({ minNoticeSeverity: 'low' });
  assert.equal(loud.assign(makeAlert({ id: id(3), severity: 'low', client: other })).notice, 'opened', 'configurable');
});

test('image exposure naming nobody does not join an incident by the placeholder address', () => {
  const c = new IncidentCorrelator();
  const x = c.assign(makeAlert({ id: id(1), kind: 'image-exposure', client: { ip: '::', ips: [] } }));
  const y = c.assign(makeAlert({ id: id(2), kind: 'image-exposure', client: { ip: '::', ips: [] } }));
  assert.notEqual(x.alert.incident?.id, y.alert.incident?.id);
});

test('restore continues open incidents after a restart: same ids, no second page', () => {
  const first = new IncidentCorrelator();
  const stored: Alert[] = [];
  for (const a of [makeAlert({ id: id(1), client: { ip: '192.0.2.1', ips: ['192.0.2.1'] } }), makeAlert({ id: id(2), kind: 'campaign', client: { ip: '192.0.2.1', ips: ['192.0.2.1', '192.0.2.9'] } })]) stored.push(first.assign(a).alert);
  const second = new IncidentCorrelator();
  second.restore(stored);
  const next = second.assign(makeAlert({ id: id(3), client: { ip: '192.0.2.9', ips: ['192.0.2.9'] } }));
  assert.equal(next.notice, null);
  assert.equal(next.alert.incident?.id, incidentId(id(1)));
});

test('deterministic: the same versions in the same order give the same incidents', () => {
  const run = (): string[] => {
    const c = new IncidentCorrelator();
    const out: string[] = [];
    for (let i = 0; i < 50; i++) {
      const ip = `10.0.${i % 7}.${i % 3}`;
      out.push(JSON.stringify(c.assign(makeAlert({ id: id(i % 20), version: 1 + Math.floor(i / 20), client: { ip, ips: [ip] } }))));
    }
    return out;
  };
  assert.deepEqual(run(), run());
});

test('a replay of stored history gets the same incidents as the first time and pages nobody; new versions continue the open incident', () => {
  const stream = [
    makeAlert({ id: id(1), severity: 'low', client: { ip: '192.0.2.1', ips: ['192.0.2.1'] } }),
    makeAlert({ id: id(1), version: 2, severity: 'high', client: { ip: '192.0.2.1', ips: ['192.0.2.1'] } }),
    makeAlert({ id: id(2), kind: 'campaign', severity: 'medium', client: { ip: '192.0.2.1', ips: ['192.0.2.1', '192.0.2.5'] } }),
  ];
  const first = new IncidentCorrelator();
  const firstOut = stream.map((a) => first.assign(a));
  const latest = new Map<string, Alert>();
  for (const c of firstOut) latest.set(c.alert.id, c.alert);
  const again = new IncidentCorrelator();
  again.restore([...latest.values()], new Map([...latest.values()].map((a) => [a.id, a.version])));
  const againOut = stream.map((a) => again.assign(a));
  assert.deepEqual(againOut.map((c) => c.alert), firstOut.map((c) => c.alert), 'identical versions, incident severities as they were');
  assert.deepEqual(againOut.map((c) => c.notice), [null, null, null]);
  const next = again.assign(makeAlert({ id: id(2), kind: 'campaign', version: 2, severity: 'critical', client: { ip: '192.0.2.1', ips: ['192.0.2.1', '192.0.2.5'] } }));
  assert.equal(next.notice, null, 'announced as urgent before the restart: no second page');
  assert.equal(next.alert.incident?.id, incidentId(id(1)));
  assert.equal(next.alert.incident?.severity, 'critical');
});

test('members of one network with one user agent, alerted one by one, are one incident; a bridging alert merges incidents into the oldest', () => {
  const c = new IncidentCorrelator();
  const ua = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0';
  const member = (n: number, ip: string, subnet: string, agent = ua): Alert => makeAlert({ id: id(n), client: { ip, ips: [ip], subnet, userAgent: agent } });
  const first = c.assign(member(1, '198.51.100.7', '198.51.100.0/24'));
  const second = c.assign(member(2, '198.51.100.9', '198.51.100.0/24'));
  assert.deepEqual([first.notice, second.notice], ['opened', null]);
  assert.equal(second.alert.incident?.id, first.alert.incident?.id);
  const otherUa = c.assign(member(3, '198.51.100.11', '198.51.100.0/24', 'curl/8.0'));
  assert.equal(otherUa.notice, 'opened', 'another user agent in the network is another actor');
  const elsewhere = c.assign(member(4, '203.0.113.5', '203.0.113.0/24'));
  assert.equal(elsewhere.notice, 'opened');
  // A campaign naming members of both incidents: one actor; the younger incident merges into the older.
  const camp = c.assign(makeAlert({ id: id(5), kind: 'campaign', client: { ip: '198.51.100.7', ips: ['198.51.100.7', '203.0.113.5'], subnet: '', userAgent: ua } }));
  assert.equal(camp.alert.incident?.id, first.alert.incident?.id);
  const later = c.assign({ ...member(4, '203.0.113.5', '203.0.113.0/24'), version: 2 });
  assert.equal(later.alert.incident?.id, first.alert.incident?.id, 'the merged incident\'s alerts now carry the survivor\'s id');
});

test('a later version that names more members merges the incidents those members opened meanwhile', () => {
  const c = new IncidentCorrelator();
  const camp1 = c.assign(makeAlert({ id: id(1), kind: 'campaign', severity: 'high', client: { ip: '198.51.100.1', ips: ['198.51.100.1', '198.51.100.2'], subnet: '', userAgent: 'x' } }));
  const member = c.assign(makeAlert({ id: id(2), severity: 'medium', client: { ip: '192.0.2.9', ips: ['192.0.2.9'], subnet: '192.0.2.0/24', userAgent: 'y' } }));
  assert.notEqual(member.alert.incident?.id, camp1.alert.incident?.id, 'not yet named by the campaign');
  const camp2 = c.assign(makeAlert({ id: id(1), kind: 'campaign', version: 2, severity: 'high', client: { ip: '198.51.100.1', ips: ['198.51.100.1', '198.51.100.2', '192.0.2.9'], subnet: '', userAgent: 'x' } }));
  assert.equal(camp2.alert.incident?.id, camp1.alert.incident?.id);
  assert.equal(camp2.alert.incident?.alerts, 2, 'the member\'s incident merged into the campaign\'s');
  const later = c.assign(makeAlert({ id: id(2), version: 2, severity: 'medium', client: { ip: '192.0.2.9', ips: ['192.0.2.9'], subnet: '192.0.2.0/24', userAgent: 'y' } }));
  assert.equal(later.alert.incident?.id, camp1.alert.incident?.id);
});
