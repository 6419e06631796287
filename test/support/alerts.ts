/** Alert versions for sink tests: valid against schemas/alert.schema.json unless a test breaks them on purpose. */
import type { Alert, AlertClient } from '../../services/core/alert.ts';

type AlertOverrides = Partial<Omit<Alert, 'client'>> & { readonly client?: Partial<AlertClient> };

export function makeAlert(over: AlertOverrides = {}): Alert {
  const { client, ...rest } = over;
  return {
    id: 'tw-0123456789abcdef0123',
    kind: 'bulk-harvest',
    severity: 'high',
    score: 87,
    client: { ip: '203.0.113.7', ips: ['203.0.113.7'], userAgent: 'python-requests/2.31', subnet: '203.0.113.0/24', ...client },
    firstSeen: '2026-01-05T10:00:00.000Z',
    detectedAt: '2026-01-05T10:14:00.000Z',
    lastSeen: '2026-01-05T10:20:00.000Z',
    images: [
      { id: 'rijks-SK-C-5', protocol: 'iiif', coverage: 0.96, scale: 1, longEdge: 14_000, requests: 1204 },
      { id: 'rijks-SK-A-2344', protocol: 'iiif', coverage: 0.5, scale: 0.5, longEdge: 4000, requests: 300 },
    ],
    reasons: [
      { signal: 'exposure', value: 0.96, threshold: 0.9, text: 'covered 96 % of image rijks-SK-C-5 at full resolution in 14 min' },
      { signal: 'regular-timing', value: 0.03, threshold: 0.6, text: '1 tile / 1.02 s ± 0.03 s' },
    ],
    version: 1,
    status: 'open',
    evidence: { source: 'access.log', firstLine: 10, lastLine: 1214 },
    ...rest,
  };
}

/** The versions of one alert: `n` open versions, then (if `resolved`) the resolution. */
export function versions(id: string, n: number, resolved = false): Alert[] {
  const out: Alert[] = [];
  for (let v = 1; v <= n; v++) out.push(makeAlert({ id, version: v }));
  if (resolved) out.push(makeAlert({ id, version: n + 1, status: 'resolved', resolvedAt: '2026-01-05T12:20:00.000Z' }));
  return out;
}
