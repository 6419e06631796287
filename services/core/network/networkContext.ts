/**
 * Network context of a client address: its autonomous system, organisation and whether that is a
 * hosting / cloud network (hostingNetworks.ts), from an {@link AsnTable}. Pure; the table is loaded
 * once by services/network/asnSources.ts. Without a table every address is 'unknown'.
 */
import { AsnTable, NO_ENTRY } from './asnTable.ts';
import { hostingClassifier, type HostingClassifier, type NetworkKind } from './hostingNetworks.ts';

export interface NetworkInfo {
  /** Autonomous system number; 0 when unknown. */
  readonly asn: number;
  /** Organisation holding the AS ('' when unknown). */
  readonly org: string;
  readonly kind: NetworkKind;
  /** The hosting provider's name (hosting networks only). */
  readonly provider?: string;
}

/** Where the table came from, for messages, the API and the attribution the data's licence asks for. */
export interface NetworkSource {
  /** `@ip-location-db/asn@2.3.…`, or the file read. */
  readonly name: string;
  /** Identifies the data's contents: package version, or the file's build time / digest. The store reloads its copy when it changes. */
  readonly version: string;
  readonly licence: string;
  /** Credit line the licence requires wherever results are shown. */
  readonly attribution: string;
}

export interface NetworkContext {
  /** null: no ASN data (every address 'unknown'). */
  readonly source: NetworkSource | null;
  readonly table: AsnTable;
  readonly classifier: HostingClassifier;
  lookup(ip: string): NetworkInfo;
  /** The address's ASN when it is a hosting network, else 0 (the campaign hunt's `asn:` groups). */
  hostingAsn(ip: string): number;
}

/** Where the ASN data comes from (config `network`). */
export interface NetworkSettings {
  /** 'auto' (the npm package @ip-location-db/asn when installed), 'none', or a path to a .mmdb or .csv file or a directory of CSVs. */
  readonly asnDatabase: string;
  /** ASNs counted as hosting networks besides the built-in list. */
  readonly hostingAsns: readonly number[];
}

export const DEFAULT_NETWORK_SETTINGS: NetworkSettings = Object.freeze({ asnDatabase: 'auto', hostingAsns: Object.freeze([]) as readonly number[] });

export const UNKNOWN_NETWORK: NetworkInfo = Object.freeze({ asn: 0, org: '', kind: 'unknown' });

export function createNetworkContext(table: AsnTable, source: NetworkSource | null, classifier: HostingClassifier = hostingClassifier()): NetworkContext {
  // One frozen NetworkInfo per (ASN, organisation) met, reached from the table entry: lookups
  // allocate nothing once warm.
  const infos = new Map<string, NetworkInfo>();
  const byEntry: Array<NetworkInfo | undefined> = new Array<NetworkInfo | undefined>(table.size);
  const infoOf = (entry: number): NetworkInfo => {
    if (entry === NO_ENTRY) return UNKNOWN_NETWORK;
    const have = byEntry[entry];
    if (have !== undefined) return have;
    const asn = table.asnAt(entry);
    const org = table.orgAt(entry);
    const key = `${asn}\n${org}`;
    let info = infos.get(key);
    if (info === undefined) {
      const c = classifier.classify(asn, org);
      info = Object.freeze(c.kind === 'hosting' ? { asn, org, kind: c.kind, provider: c.provider } : { asn, org, kind: c.kind });
      infos.set(key, info);
    }
    byEntry[entry] = info;
    return info;
  };
  return {
    source,
    table,
    classifier,
    lookup: (ip) => infoOf(table.find(ip)),
    hostingAsn(ip) {
      const info = infoOf(table.find(ip));
      return info.kind === 'hosting' ? info.asn : 0;
    },
  };
}

/** No ASN data: every address 'unknown'. */
export function noNetworkContext(): NetworkContext {
  return createNetworkContext(AsnTable.empty(), null);
}

/** `AS16509 Amazon.com, Inc.`, or `unknown network`. */
export function networkName(n: NetworkInfo): string {
  if (n.kind === 'unknown') return 'unknown network';
  return n.org === '' ? `AS${n.asn}` : `AS${n.asn} ${n.org}`;
}

/** `hosting provider (Amazon Web Services)`, `residential/other`, `unknown`. */
export function kindText(n: NetworkInfo): string {
  return n.kind === 'hosting' ? `hosting provider${n.provider && n.provider !== n.org ? ` (${n.provider})` : ''}` : n.kind;
}
