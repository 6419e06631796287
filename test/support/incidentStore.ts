/**
 * A real store for incident/API tests: the generated scraper scenario (one python-requests client
 * sweeping three 6000 × 4000 IIIF images row by row over a few viewer-like browsers), replayed by
 * the real CLI into a fresh data directory, then opened in this process.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pino from 'pino';
import { buildApp } from '../../services/api/buildApp.ts';
import { DEFAULT_API_CONFIG, type ApiConfig } from '../../services/api/apiConfig.ts';
import type { Clock } from '../../services/api/deps.ts';
import { createToken } from '../../services/incidents/tokens.ts';
import type { Role } from '../../services/incidents/roles.ts';
import { openStore, type Store } from '../../services/store/openStore.ts';
import { runCliOk, tempDir } from './cli.ts';
import { scraperScenario, type ScraperScenario } from './logs.ts';

export interface IncidentFixture {
  readonly dir: string;
  readonly dataDir: string;
  readonly logPath: string;
  readonly scenario: ScraperScenario;
}

/** Replays the scenario with the CLI (store closed again when this resolves). */
export async function replayScenario(t: TestContext): Promise<IncidentFixture> {
  const dir = tempDir(t, 'incidents');
  const logPath = join(dir, 'access.log');
  const scenario = scraperScenario(3);
  writeFileSync(logPath, scenario.lines.map((l) => `${l}\n`).join(''));
  const dataDir = join(dir, 'data');
  await runCliOk(['replay', logPath, '--data', dataDir, '--quiet']);
  return { dir, dataDir, logPath, scenario };
}

/** A wall clock the test moves by hand. */
export function manualClock(start = Date.UTC(2026, 3, 1)): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => (now += ms) };
}

export interface ApiHarness {
  readonly store: Store;
  readonly app: Awaited<ReturnType<typeof buildApp>>;
  readonly clock: ReturnType<typeof manualClock>;
  readonly tokens: Record<Role, string>;
  readonly auth: (role: Role) => { authorization: string };
}

/** Opens the fixture's store in this process and builds the app on it with one token per role. */
export async function openApi(t: TestContext, fx: IncidentFixture, config: Partial<ApiConfig> = {}): Promise<ApiHarness> {
  const store = await openStore({ kind: 'embedded', dataDir: fx.dataDir });
  const clock = manualClock();
  const app = await buildApp({ store, logger: pino({ level: 'silent' }), clock, config: { ...DEFAULT_API_CONFIG, ...config } });
  await app.ready();
  t.after(async () => {
    await app.close();
    await store.close();
  });
  const tokens = {} as Record<Role, string>;
  for (const role of ['viewer', 'analyst', 'admin'] as const) tokens[role] = (await createToken(store, { name: `test-${role}`, role, createdBy: 'test', now: clock.now() })).token;
  return { store, app, clock, tokens, auth: (role) => ({ authorization: `Bearer ${tokens[role]}` }) };
}
