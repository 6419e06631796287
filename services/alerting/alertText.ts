import type { Alert, AlertImage } from '../core/alert.ts';
import { noticeOf } from './incidentNotice.ts';

const pct = (f: number): string => `${Math.round(f * 100)} %`;

/** "img-1: 96 % at full resolution (8000 px), 1204 requests". */
export function imageText(i: AlertImage): string {
  const band = i.scale >= 0.999 ? 'full resolution' : `scale ${Math.round(i.scale * 1000) / 1000}`;
  const edge = i.longEdge > 0 ? ` (${i.longEdge} px)` : '';
  return `${i.id}: ${pct(i.coverage)} at ${band}${edge}, ${i.requests} requests`;
}

/** Who: the client address, its network when known, and how many more addresses a campaign spans. */
export function clientText(a: Alert): string {
  const others = new Set(a.client.ips.filter((ip) => ip !== a.client.ip)).size;
  const who = a.client.ip !== '' ? a.client.ip : a.client.subnet !== '' ? a.client.subnet : 'unknown client';
  const n = a.client.network;
  // Network context: `203.0.113.7 [AS16509, hosting]` (the organisation is in the reasons).
  const net = n !== undefined && n.kind !== 'unknown' ? ` [AS${n.asn}, ${n.kind === 'hosting' ? 'hosting' : 'residential/other'}]` : '';
  return others > 0 ? `${who}${net} (+${others} more IPs)` : `${who}${net}`;
}

/**
 * One alert version in a line:
 * `HIGH bulk-harvest by 203.0.113.7: img-1: 96 % at full resolution (8000 px), 1204 requests (+2 more images); score 87 [tw-… v3]`,
 * or `RESOLVED …` for a resolution. Pure; the user agent is left out (it is untrusted text).
 */
export function alertSummary(a: Alert): string {
  const head = a.status === 'resolved' ? 'RESOLVED' : a.severity.toUpperCase();
  const first = a.images[0];
  const images = first === undefined ? 'no image detail' : `${imageText(first)}${a.images.length > 1 ? ` (+${a.images.length - 1} more images)` : ''}`;
  return `${head} ${a.kind} by ${clientText(a)}: ${images}; score ${Math.round(a.score)} [${a.id} v${a.version}]`;
}

/** What happened to the incident: `incident ti-… escalated (critical)` (see incidentNotice.ts for versions without one). */
export function incidentHeadline(a: Alert): string {
  const inc = noticeOf(a);
  return `incident ${inc.id} ${inc.notice} (${inc.severity})`;
}

/**
 * The line a person on call reads in a chat channel, a log or Alertmanager: the incident's notice,
 * its size, then the alert that caused the notice:
 * `incident ti-… escalated (critical), 3 alerts: CRITICAL bulk-harvest by 203.0.113.7: …; score 97 [tw-… v2]`.
 */
export function noticeSummary(a: Alert): string {
  const n = noticeOf(a).alerts;
  return `${incidentHeadline(a)}, ${n} alert${n === 1 ? '' : 's'}: ${alertSummary(a)}`;
}

/** The measured reasons, one per line ("covered 96 % of image X at full resolution in 14 min"). */
export function alertDescription(a: Alert): string {
  return a.reasons.map((r) => `- ${r.text}`).join('\n');
}

/** Slack mrkdwn treats &, < and > as control characters; escape them in untrusted text. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Body of a Slack-compatible incoming webhook: `{ text }`, the notice summary and the alert's reasons. */
export function slackMessage(a: Alert): { text: string } {
  const reasons = a.reasons.length > 0 ? `\n${escapeSlack(alertDescription(a))}` : '';
  return { text: `${escapeSlack(noticeSummary(a))}${reasons}` };
}
