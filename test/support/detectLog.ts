import type { Alert } from '../../services/core/alert.ts';
import { DEFAULT_DETECTOR_CONFIG, type DetectorConfig } from '../../services/core/detect/detectorConfig.ts';
import { compileCidrMatcher } from '../../services/core/logformat/cidr.ts';
import { createParser } from '../../services/core/logformat/createParser.ts';
import { DEFAULT_RECOGNISE_OPTIONS } from '../../services/core/protocols/options.ts';
import { StreamingDetector } from '../../services/detector/streamingDetector.ts';
import { emptyCatalog, type Catalog } from '../../services/ingest/catalog.ts';
import { createNormalizer, detectorEvent } from '../../services/ingest/normalizer.ts';

export interface DetectRun {
  readonly alerts: Alert[];
  readonly deadLetters: number;
  readonly lines: number;
  readonly detector: StreamingDetector;
}

/**
 * Runs log lines through the same pure path replay uses (parse → normalise → streaming detector),
 * without a store: the detector tests exercise detection, the integration tests exercise storage.
 */
export function detectLines(
  lines: Iterable<string>,
  opts: { config?: Partial<DetectorConfig>; allowCidrs?: readonly string[]; catalog?: Catalog } = {},
): DetectRun {
  const config = { ...DEFAULT_DETECTOR_CONFIG, ...opts.config };
  const allowed = compileCidrMatcher(opts.allowCidrs ?? []);
  const alerts: Alert[] = [];
  let normalizer: ReturnType<typeof createNormalizer> | null = null;
  const detector = new StreamingDetector({
    config,
    geometryOf: (p, id) => normalizer?.geometryOf(p, id),
    isAllowed: (ip) => allowed(ip),
    onAlert: (a) => alerts.push(a),
  });
  let deadLetters = 0;
  let n = 0;
  for (const line of lines) {
    n++;
    if (normalizer === null) {
      normalizer = createNormalizer({ parse: createParser({ format: 'combined' }).parse, recognise: DEFAULT_RECOGNISE_OPTIONS, catalog: opts.catalog ?? emptyCatalog() });
    }
    const r = normalizer.normalize(line);
    if (!r.ok) {
      deadLetters++;
      continue;
    }
    detector.push(detectorEvent(r, { source: 'test', line: n, partition: -1 }));
  }
  detector.flush();
  return { alerts, deadLetters, lines: n, detector };
}

/** IPs named by any alert (first version or update). */
export function alertedIps(alerts: readonly Alert[]): Set<string> {
  const s = new Set<string>();
  for (const a of alerts) for (const ip of [a.client.ip, ...a.client.ips]) s.add(ip);
  return s;
}
