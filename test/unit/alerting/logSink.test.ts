/**
 * The log sink writes its lines whatever the process log level: commands log at `warn` by default,
 * and the sink's `info` lines used to be dropped, so `"sinks": {"log": true}` printed nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { buildSinks } from '../../../services/alerting/buildSinks.ts';
import { createLogSink } from '../../../services/alerting/logSink.ts';
import { parseSinksConfig } from '../../../services/alerting/sinksConfig.ts';
import { makeAlert } from '../../support/alerts.ts';

test('the native log sink writes one line per notice at the default process level (warn), with the incident link', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => lines.push(s) });
  const a = makeAlert();
  await createLogSink(logger, 'log', 'https://tilewatch.example/').deliver(a);
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!) as { msg: string; incident: { id: string; url: string }; alert: { id: string } };
  assert.equal(line.msg, 'incident notice');
  assert.equal(line.alert.id, a.id);
  assert.equal(line.incident.url, `https://tilewatch.example/?incident=${line.incident.id}`);
  logger.warn('still at warn');
  logger.info('the process logger itself keeps its level');
  assert.equal(lines.length, 2);
});

test('sinks.log with format "ecs" goes through buildSinks to its own line, ECS only', async () => {
  const out: string[] = [];
  const pinoLines: string[] = [];
  const cfg = parseSinksConfig({ webUrl: 'https://tilewatch.example/', log: { format: 'ecs' } }, {});
  const sinks = buildSinks(cfg, { logger: pino({ level: 'warn' }, { write: (s: string) => pinoLines.push(s) }), ecsOut: { write: (s: string) => out.push(s) } });
  const a = makeAlert();
  sinks.push(a);
  assert.deepEqual(await sinks.drain(5000), { drained: true, left: 0, leftBySink: {} });
  assert.equal(out.length, 1);
  const doc = JSON.parse(out[0]!) as { event: { kind: string; id: string; url: string }; ecs: { version: string } };
  assert.equal(doc.event.kind, 'alert');
  assert.equal(doc.event.id, `${a.id}:${a.version}`);
  assert.match(doc.event.url, /^https:\/\/tilewatch\.example\/\?incident=ti-[0-9a-f]{20}$/);
  assert.deepEqual(pinoLines.filter((l) => l.includes('incident notice')), [], 'nothing on the pino log');
});
