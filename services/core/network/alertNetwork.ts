/**
 * Network context on an alert version: `client.network` (the ASN, organisation and hosting class of
 * `client.ip`), `client.networks` (every network of a multi-address alert, most addresses first) and
 * one reason with signal `network` saying it in words. Context only: it changes no score or
 * severity. Deterministic (the same data gives the same fields and text) and idempotent (a version
 * that already carries them gets them anew, e.g. a hunt alert's next version built from the last).
 * Without ASN data the fields say 'unknown' and no reason is added.
 */
import type { Alert, AlertNetwork, AlertNetworkGroup, AlertReason } from '../alert.ts';
import { kindText, networkName, type NetworkContext, type NetworkInfo } from './networkContext.ts';

export const NETWORK_SIGNAL = 'network';

function plain(n: NetworkInfo): AlertNetwork {
  return n.provider !== undefined ? { asn: n.asn, org: n.org, kind: n.kind, provider: n.provider } : { asn: n.asn, org: n.org, kind: n.kind };
}

/** The networks of a set of addresses: one group per (ASN, organisation), most addresses first, then by ASN. */
export function networkGroups(ips: readonly string[], ctx: NetworkContext): AlertNetworkGroup[] {
  const groups = new Map<string, { n: NetworkInfo; addresses: number }>();
  for (const ip of new Set(ips)) {
    const n = ctx.lookup(ip);
    const k = `${n.asn}\n${n.org}`;
    const g = groups.get(k);
    if (g) g.addresses++;
    else groups.set(k, { n, addresses: 1 });
  }
  return [...groups.values()]
    .sort((a, b) => b.addresses - a.addresses || a.n.asn - b.n.asn || a.n.org.localeCompare(b.n.org))
    .map((g) => ({ ...plain(g.n), addresses: g.addresses }));
}

const SHOWN = 3;

/** The reason's text: `network: AS16509 Amazon.com, Inc. — hosting provider (Amazon Web Services)` or, for several addresses, their networks. */
export function networkReasonText(network: AlertNetwork, groups: readonly AlertNetworkGroup[]): string {
  if (groups.length <= 1 && groups.every((g) => g.addresses <= 1)) return `network: ${networkName(network)} — ${kindText(network)}`;
  const total = groups.reduce((s, g) => s + g.addresses, 0);
  const hosting = groups.filter((g) => g.kind === 'hosting').reduce((s, g) => s + g.addresses, 0);
  const parts = groups.slice(0, SHOWN).map((g) => `${g.addresses} in ${networkName(g)} (${kindText(g)})`);
  const more = groups.length > SHOWN ? `, +${groups.length - SHOWN} more networks` : '';
  return `networks of ${total} addresses: ${parts.join(', ')}${more}; ${hosting} of ${total} in hosting networks`;
}

/** The version with its network context (see the module comment). */
export function withNetworkContext(alert: Alert, ctx: NetworkContext): Alert {
  const network = plain(ctx.lookup(alert.client.ip));
  const ips = alert.client.ips.length > 0 ? alert.client.ips : alert.client.ip !== '' ? [alert.client.ip] : [];
  const groups = networkGroups(ips, ctx);
  const multi = new Set(ips).size > 1;
  const { network: _n, networks: _g, ...client } = alert.client;
  void _n;
  void _g;
  const reasons: AlertReason[] = alert.reasons.filter((r) => r.signal !== NETWORK_SIGNAL);
  if (ctx.source !== null && ips.length > 0) {
    const hosting = groups.filter((g) => g.kind === 'hosting').reduce((s, g) => s + g.addresses, 0);
    const total = groups.reduce((s, g) => s + g.addresses, 0);
    reasons.push({ signal: NETWORK_SIGNAL, value: hosting, threshold: total, text: networkReasonText(network, groups) });
  }
  return { ...alert, client: { ...client, network, ...(multi ? { networks: groups } : {}) }, reasons };
}
