/**
 * User agents and address allocation for simulated clients.
 */
import type { Rng } from './rng.ts';

export const BROWSER_UAS: readonly string[] = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:135.0) Gecko/20100101 Firefox/135.0',
  'Mozilla/5.0 (X11; Linux x86_64; rv:136.0) Gecko/20100101 Firefox/136.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (iPad; CPU OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36 Edg/133.0.0.0',
];

/**
 * More desktop browsers, for crowds whose members must not all look like BROWSER_UAS (campus labs,
 * managed office fleets). Each string is shared by everyone on that build, as on identical machines.
 */
export const MORE_DESKTOP_UAS: readonly string[] = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:135.0) Gecko/20100101 Firefox/135.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36 Edg/134.0.0.0',
];

/**
 * Phones and tablets, weighted by how often a carrier's customers send each: Chrome on Android sends
 * one reduced UA for every device, so most Android visitors share the exact same string.
 */
export const MOBILE_UAS: readonly { readonly ua: string; readonly weight: number }[] = [
  { ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Mobile Safari/537.36', weight: 24 },
  { ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Mobile Safari/537.36', weight: 14 },
  { ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1', weight: 22 },
  { ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1', weight: 8 },
  { ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1', weight: 7 },
  { ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/133.0.6943.120 Mobile/15E148 Safari/604.1', weight: 4 },
  { ua: 'Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36', weight: 6 },
  { ua: 'Mozilla/5.0 (Android 14; Mobile; rv:135.0) Gecko/135.0 Firefox/135.0', weight: 2 },
  { ua: 'Mozilla/5.0 (iPad; CPU OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1', weight: 4 },
];

/** A phone or tablet UA, weighted as MOBILE_UAS. */
export function pickMobileUa(rng: Rng): string {
  return rng.weighted(
    MOBILE_UAS.map((m) => m.ua),
    MOBILE_UAS.map((m) => m.weight),
  );
}

/**
 * Browser families of managed corporate fleets: every employee runs one of a couple of builds of the
 * same browser (a rollout in progress), newest first.
 */
export const CORPORATE_UA_FAMILIES: readonly (readonly string[])[] = [
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36 Edg/133.0.0.0',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36 Edg/132.0.0.0',
  ],
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36',
  ],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0'],
];

/** dezoomify-rs' fixed, old Chrome UA. */
export const DEZOOMIFY_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.110 Safari/537.36';

export const LIBRARY_UAS: readonly string[] = [
  'python-requests/2.31.0',
  'python-requests/2.28.1',
  'python-httpx/0.27.0',
  'Wget/1.21.2',
  'curl/8.5.0',
  'Go-http-client/1.1',
  'aiohttp/3.9.1',
];

export const IIIF_DL_UA = 'iiif-dl/0.3.1';

export const GOOGLEBOT_UA = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
export const GOOGLEBOT_IMAGE_UA = 'Googlebot-Image/1.0';
export const BINGBOT_UA = 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)';
export const UPTIMEROBOT_UA = 'Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)';
export const PINGDOM_UA = 'Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)';
export const CLOUDFRONT_UA = 'Amazon CloudFront';

/** Address ranges used by the benign bots (also written to allowlist.json). */
export const RANGES = {
  internalStaff: '10.20.0.0/16',
  googlebot: ['66.249.64.0/19'],
  bingbot: ['157.55.39.0/24', '207.46.13.0/24', '40.77.167.0/24'],
  uptimeRobot: ['69.162.124.224/28'],
  pingdom: ['178.255.152.0/24'],
  cloudfront: ['130.176.0.0/16', '64.252.64.0/18'],
} as const;

/** First octets used for ordinary public IPv4 clients (avoids private, bot and internal ranges). */
const PUBLIC_FIRST_OCTETS = [
  2, 5, 24, 31, 37, 46, 47, 62, 73, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 98, 99,
  108, 109, 141, 145, 151, 176, 185, 188, 193, 194, 195, 212, 213, 217,
];

function parseCidr(cidr: string): [number, number] {
  const [addr, bits] = cidr.split('/');
  const parts = (addr ?? '').split('.').map(Number);
  const base = (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
  return [base, Number(bits)];
}

/** "a.b" of "a.b.c" or "a.b.c.d". */
const slash16Of = (p: string): string => p.split('.', 2).join('.');

const v4 = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** Hands out unique addresses so no two actors share an IP unless on purpose. */
export class IpAllocator {
  private readonly used = new Set<string>();
  /** /24 prefixes handed to campaigns: nobody else gets an address there. */
  private readonly reserved = new Set<string>();
  /** /16 prefixes ("a.b") handed to carriers whose customers rotate addresses inside them. */
  private readonly reserved16 = new Set<string>();

  constructor(private readonly rng: Rng) {}

  private claim(ip: string): boolean {
    if (this.used.has(ip)) return false;
    this.used.add(ip);
    return true;
  }

  /** A residential-looking public IPv4. */
  publicV4(): string {
    for (;;) {
      const p = `${this.rng.pick(PUBLIC_FIRST_OCTETS)}.${this.rng.int(0, 255)}.${this.rng.int(0, 255)}`;
      if (this.reserved.has(p) || this.reserved16.has(slash16Of(p))) continue;
      const ip = `${p}.${this.rng.int(1, 254)}`;
      if (this.claim(ip)) return ip;
    }
  }

  /** A public IPv6 (canonical text: no zero groups, so no `::` compression needed). */
  publicV6(): string {
    for (;;) {
      const g = (): string => this.rng.int(1, 0xffff).toString(16);
      const ip = `2a0${this.rng.int(1, 9)}:${g()}:${g()}:${g()}:${g()}:${g()}:${g()}:${g()}`;
      if (this.claim(ip)) return ip;
    }
  }

  /** Human client: IPv6 with probability `v6Share`. */
  client(v6Share = 0.2): string {
    return this.rng.chance(v6Share) ? this.publicV6() : this.publicV4();
  }

  /** An address inside a CIDR (host part random, avoiding .0 and .255). */
  inCidr(cidr: string): string {
    const [base, bits] = parseCidr(cidr);
    const size = 2 ** (32 - bits);
    for (let tries = 0; tries < 10000; tries++) {
      const n = (base + this.rng.int(1, Math.max(1, size - 2))) >>> 0;
      const last = n & 255;
      if (size > 256 && (last === 0 || last === 255)) continue;
      const ip = v4(n);
      if (this.claim(ip)) return ip;
    }
    throw new Error(`CIDR ${cidr} exhausted`);
  }

  /** A fresh public /24 (returned as "a.b.c") with nothing allocated in it yet. */
  freshSlash24(): string {
    for (;;) {
      const p = `${this.rng.pick(PUBLIC_FIRST_OCTETS)}.${this.rng.int(0, 255)}.${this.rng.int(0, 255)}`;
      if (this.reserved16.has(slash16Of(p))) continue;
      let clash = false;
      for (const ip of this.used) {
        if (ip.startsWith(`${p}.`)) {
          clash = true;
          break;
        }
      }
      if (!clash) {
        this.reserved.add(p);
        return p;
      }
    }
  }

  /** A fresh public /16 (returned as "a.b") with nothing allocated or reserved in it; reserved from now on. */
  freshSlash16(): string {
    for (;;) {
      const p = `${this.rng.pick(PUBLIC_FIRST_OCTETS)}.${this.rng.int(0, 255)}`;
      if (this.reserved16.has(p)) continue;
      const dot = `${p}.`;
      let clash = false;
      for (const ip of this.used) {
        if (ip.startsWith(dot)) {
          clash = true;
          break;
        }
      }
      for (const r of this.reserved) {
        if (r.startsWith(dot)) {
          clash = true;
          break;
        }
      }
      if (!clash) {
        this.reserved16.add(p);
        return p;
      }
    }
  }

  /** An unused address inside a /16 prefix "a.b" (from freshSlash16). */
  inSlash16(prefix: string): string {
    for (;;) {
      const ip = `${prefix}.${this.rng.int(0, 255)}.${this.rng.int(1, 254)}`;
      if (this.claim(ip)) return ip;
    }
  }

  /** A public IPv6 /64 prefix (four groups, no zero group), for one phone's addresses. */
  v6Slash64(): string {
    const g = (): string => this.rng.int(1, 0xffff).toString(16);
    return `2a0${this.rng.int(1, 9)}:${g()}:${g()}:${g()}`;
  }

  /** A new address in a /64 prefix from v6Slash64 (random interface id, as privacy addressing does). */
  inV6Slash64(prefix: string): string {
    for (;;) {
      const g = (): string => this.rng.int(1, 0xffff).toString(16);
      const ip = `${prefix}:${g()}:${g()}:${g()}:${g()}`;
      if (this.claim(ip)) return ip;
    }
  }

  /** `n` distinct hosts in a /24 prefix "a.b.c". */
  inSlash24(prefix: string, n: number): string[] {
    const hosts = this.rng.sample(
      Array.from({ length: 253 }, (_, i) => i + 2),
      n,
    );
    const out: string[] = [];
    for (const h of hosts) {
      const ip = `${prefix}.${h}`;
      if (this.claim(ip)) out.push(ip);
    }
    return out;
  }
}
