/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) into its top self-time functions: where the main thread
 * spent its samples, by function, with the function's place in the TypeScript source.
 *
 *   node --import tsx test/bench/profileTop.ts FILE.cpuprofile [--top 15] [--lines N] [--json]
 *
 * `--lines N` adds µs per line (self time / N): the profile of a replay of an N-line log. Locations in
 * services/ are mapped back to the .ts source through the source maps tsx attaches (the modules are
 * imported here for that: library modules without side effects); other .ts files show the line in
 * tsx's output, marked '~'. Self % is of the busy
 * time: samples that were not "(idle)" (a replay's main thread idles while chDB inserts on its own threads).
 */
import { readFileSync } from 'node:fs';
import { findSourceMap } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based, in the code V8 ran (tsx's transpiled output for .ts files). */
  readonly lineNumber: number;
  readonly columnNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileEntry {
  readonly functionName: string;
  /** `path:line` relative to `root` (1-based, in the .ts source when a source map is found), or a V8 category. */
  readonly location: string;
  readonly selfMs: number;
  /** Percent of the busy (non-idle) sampled time. */
  readonly selfPct: number;
}

export interface ProfileSummary {
  /** Sampled wall time of the profile. */
  readonly totalMs: number;
  /** Sampled time not idle. */
  readonly busyMs: number;
  /** "(garbage collector)" time, also one of the entries when it ranks. */
  readonly gcMs: number;
  readonly entries: readonly ProfileEntry[];
}

/** V8's pseudo-frames: not functions, reported by name. */
const IDLE = '(idle)';

/** Self time per function (every call site and stack merged), busiest first. */
export async function summariseProfile(profile: CpuProfile, opts: { top?: number; root?: string; mapSources?: boolean } = {}): Promise<ProfileSummary> {
  const top = opts.top ?? 15;
  const root = opts.root ?? process.cwd();
  const frameOf = new Map<number, CallFrame>();
  for (const n of profile.nodes) frameOf.set(n.id, n.callFrame);
  // Self time: each sample is charged the delta to the next one (the last sample gets the mean).
  const selfByKey = new Map<string, { frame: CallFrame; us: number }>();
  const n = profile.samples.length;
  const meanDelta = n > 0 ? (profile.endTime - profile.startTime) / n : 0;
  let total = 0;
  let idle = 0;
  let gc = 0;
  for (let i = 0; i < n; i++) {
    const frame = frameOf.get(profile.samples[i]!);
    if (!frame) continue;
    const us = i + 1 < n ? Math.max(0, profile.timeDeltas[i + 1]!) : meanDelta;
    total += us;
    if (frame.functionName === IDLE) {
      idle += us;
      continue;
    }
    if (frame.functionName === '(garbage collector)') gc += us;
    const key = `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}\u0000${frame.columnNumber}`;
    const e = selfByKey.get(key);
    if (e) e.us += us;
    else selfByKey.set(key, { frame, us });
  }
  const busy = total - idle;
  const ranked = [...selfByKey.values()].sort((a, b) => b.us - a.us).slice(0, top);
  const entries: ProfileEntry[] = [];
  for (const { frame, us } of ranked) {
    entries.push({
      functionName: frame.functionName || '(anonymous)',
      location: await locate(frame, root, opts.mapSources ?? true),
      selfMs: us / 1000,
      selfPct: busy > 0 ? (100 * us) / busy : 0,
    });
  }
  return { totalMs: total / 1000, busyMs: busy / 1000, gcMs: gc / 1000, entries };
}

/** `file:line` of a frame, mapped to the TypeScript source when the module's source map can be had. */
async function locate(frame: CallFrame, root: string, mapSources: boolean): Promise<string> {
  const { url } = frame;
  if (url === '') return frame.functionName.startsWith('(') ? '' : '(native)';
  if (url.startsWith('node:')) return `${url}:${frame.lineNumber + 1}`;
  if (!url.startsWith('file:')) return `${url}:${frame.lineNumber + 1}`;
  const path = fileURLToPath(url.replace(/\?.*$/, ''));
  const rel = relative(root, path);
  // Only library modules are imported for their source maps (an entry script would run); others keep
  // the line in tsx's output, marked '~'.
  if (!mapSources || !/\.[cm]?tsx?$/.test(path) || !rel.startsWith('services/') || rel === 'services/cli/main.ts') {
    return `${rel}:${/\.[cm]?tsx?$/.test(path) ? '~' : ''}${frame.lineNumber + 1}`;
  }
  const mapped = await originalPosition(url, frame.lineNumber, frame.columnNumber);
  return `${rel}:${mapped === null ? `~${frame.lineNumber + 1}` : mapped + 1}`;
}

let sourceMapsOn = false;
/** 0-based original line of a generated position, or null without a source map. */
async function originalPosition(url: string, line: number, column: number): Promise<number | null> {
  if (!sourceMapsOn) {
    process.setSourceMapsEnabled(true);
    sourceMapsOn = true;
  }
  const bare = url.replace(/\?.*$/, '');
  let map = findSourceMap(bare);
  if (!map) {
    try {
      await import(bare);
    } catch {
      return null;
    }
    map = findSourceMap(bare);
  }
  if (!map) return null;
  const e = map.findEntry(line, column) as { originalLine?: number; lineNumber?: number };
  return e.originalLine ?? e.lineNumber ?? null;
}

/** The summary as a Markdown table; `lines` adds µs per line. */
export function profileTable(s: ProfileSummary, lines?: number, top = 10): string[] {
  const perLine = lines !== undefined && lines > 0;
  const out = [
    `| function | file:line | self % | self ms${perLine ? ' | µs/line' : ''} |`,
    `| --- | --- | ---: | ---:${perLine ? ' | ---:' : ''} |`,
  ];
  for (const e of s.entries.slice(0, top)) {
    const cells = [`\`${e.functionName}\``, e.location ? `\`${e.location}\`` : '', e.selfPct.toFixed(1), e.selfMs.toFixed(0)];
    if (perLine) cells.push(((e.selfMs * 1000) / lines).toFixed(2));
    out.push(`| ${cells.join(' | ')} |`);
  }
  return out;
}

/**
 * The main thread's profile among several written by one process (tsx's loader runs in a worker thread
 * that mostly idles): the one with the most samples that are not "(idle)".
 */
export function mainThreadProfile(paths: readonly string[]): { path: string; profile: CpuProfile } | null {
  let best: { path: string; profile: CpuProfile; busy: number } | null = null;
  for (const path of paths) {
    const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
    const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === IDLE).map((n) => n.id));
    let busy = 0;
    for (const id of profile.samples) if (!idleIds.has(id)) busy++;
    if (!best || busy > best.busy) best = { path, profile, busy };
  }
  return best ? { path: best.path, profile: best.profile } : null;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const files = args.filter((a, i) => a.endsWith('.cpuprofile') && !['--top', '--lines'].includes(args[i - 1] ?? ''));
  if (files.length === 0) {
    process.stderr.write('usage: node --import tsx test/bench/profileTop.ts FILE.cpuprofile… [--top N] [--lines N] [--json]\n');
    process.exit(2);
  }
  const top = Number(opt('--top') ?? 15);
  const lines = opt('--lines') !== undefined ? Number(opt('--lines')) : undefined;
  const main = mainThreadProfile(files)!;
  const s = await summariseProfile(main.profile, { top });
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  else {
    process.stdout.write(
      `${main.path}: ${(s.totalMs / 1000).toFixed(1)} s sampled, busy ${(s.busyMs / 1000).toFixed(1)} s, GC ${(s.gcMs / 1000).toFixed(1)} s\n\n` +
        `${profileTable(s, lines, top).join('\n')}\n`,
    );
  }
}
