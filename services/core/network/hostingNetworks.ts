/**
 * Which networks are hosting / cloud providers: the data behind "hosting provider" vs
 * "residential/other" in alerts, and the only networks whose addresses the campaign hunt groups by
 * autonomous system (docs/network-context.md says why).
 *
 * The rule: an autonomous system is a hosting network when its number is in {@link HOSTING_ASNS}, or
 * when its organisation name matches one of {@link HOSTING_ORG_PATTERNS} (whole words, any case), or
 * when the configuration adds it (`network.hostingAsns`). Everything else with a known ASN is
 * "residential/other" — consumer ISPs, mobile carriers, universities, companies, CDNs; an address the
 * table does not hold is "unknown". The list names the providers whose networks rent servers by the
 * hour; it leaves out CDNs and consumer VPN egress networks (Cloudflare AS13335, Akamai's CDN
 * AS20940), whose addresses carry people.
 */

export interface HostingAsn {
  readonly asn: number;
  readonly provider: string;
}

/** Hosting and cloud providers by autonomous system number (organisation names as the ASN data spells them vary). */
export const HOSTING_ASNS: readonly HostingAsn[] = [
  { asn: 16509, provider: 'Amazon Web Services' },
  { asn: 14618, provider: 'Amazon Web Services' },
  { asn: 8987, provider: 'Amazon Web Services' },
  { asn: 396982, provider: 'Google Cloud' },
  { asn: 15169, provider: 'Google' },
  { asn: 19527, provider: 'Google' },
  { asn: 139070, provider: 'Google Cloud' },
  { asn: 8075, provider: 'Microsoft Azure' },
  { asn: 8068, provider: 'Microsoft Azure' },
  { asn: 16276, provider: 'OVHcloud' },
  { asn: 24940, provider: 'Hetzner' },
  { asn: 213230, provider: 'Hetzner Cloud' },
  { asn: 212317, provider: 'Hetzner Cloud' },
  { asn: 14061, provider: 'DigitalOcean' },
  { asn: 63949, provider: 'Linode (Akamai Connected Cloud)' },
  { asn: 45102, provider: 'Alibaba Cloud' },
  { asn: 37963, provider: 'Alibaba Cloud' },
  { asn: 132203, provider: 'Tencent Cloud' },
  { asn: 45090, provider: 'Tencent Cloud' },
  { asn: 31898, provider: 'Oracle Cloud' },
  { asn: 12876, provider: 'Scaleway' },
  { asn: 51167, provider: 'Contabo' },
  { asn: 20473, provider: 'Vultr (The Constant Company)' },
  { asn: 60781, provider: 'Leaseweb' },
  { asn: 16265, provider: 'Leaseweb' },
  { asn: 9009, provider: 'M247' },
  { asn: 8560, provider: 'IONOS' },
  { asn: 47583, provider: 'Hostinger' },
  { asn: 136907, provider: 'Huawei Cloud' },
];

/** Organisation names that say "hosting" in so many words. */
export const HOSTING_ORG_PATTERNS: readonly RegExp[] = [/\bhosting\b/i, /\bdata ?cent(?:er|re)s?\b/i, /\bvps\b/i, /\bdedicated servers?\b/i, /\bcolocation\b/i];

export type NetworkKind = 'hosting' | 'residential/other' | 'unknown';

export interface HostingClassifier {
  /** 'hosting' or 'residential/other' for a known ASN (0 = unknown address: 'unknown'), with the provider's name for listed ASNs. */
  classify(asn: number, org: string): { readonly kind: NetworkKind; readonly provider: string };
}

/** The classifier of the rule above; `extraAsns` are the configuration's additions. */
export function hostingClassifier(extraAsns: readonly number[] = []): HostingClassifier {
  const listed = new Map<number, string>(HOSTING_ASNS.map((h) => [h.asn, h.provider]));
  for (const a of extraAsns) if (!listed.has(a)) listed.set(a, '');
  return {
    classify(asn, org) {
      if (asn === 0) return { kind: 'unknown', provider: '' };
      const provider = listed.get(asn);
      if (provider !== undefined) return { kind: 'hosting', provider: provider === '' ? org : provider };
      if (HOSTING_ORG_PATTERNS.some((p) => p.test(org))) return { kind: 'hosting', provider: org };
      return { kind: 'residential/other', provider: '' };
    },
  };
}
