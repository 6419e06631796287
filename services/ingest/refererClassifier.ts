import type { RefererKind } from '../core/detect/clientState.ts';
import { ownString } from '../core/ownString.ts';
import { recognise } from '../core/protocols/recognise.ts';
import type { RecogniseOptions } from '../core/protocols/options.ts';

/**
 * Classifies Referer values ('none' | 'page' | 'protocol' | 'other') with a bounded cache: referers
 * repeat heavily (every tile of a viewer session carries the same one), so each distinct value is
 * recognised once.
 */
export function createRefererClassifier(options: RecogniseOptions, maxEntries = 10_000): (referer: string) => RefererKind {
  const cache = new Map<string, RefererKind>();
  return (referer) => {
    if (referer === '' || referer === '-') return 'none';
    const hit = cache.get(referer);
    if (hit !== undefined) return hit;
    const kind = classify(referer, options);
    if (cache.size >= maxEntries) cache.clear();
    cache.set(ownString(referer), kind);
    return kind;
  };
}

function classify(referer: string, options: RecogniseOptions): RefererKind {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(referer);
  const target = m ? m[1] || '/' : referer;
  if (!target.startsWith('/')) return 'other';
  const addr = recognise(target, options);
  if (addr.protocol !== 'none' && (addr.kind === 'tile' || addr.kind === 'info' || addr.kind === 'region' || addr.kind === 'full')) return 'protocol';
  return addr.kind === 'page' ? 'page' : 'other';
}
