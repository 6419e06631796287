/**
 * The store's read helper: the per-statement settings it appends (never `clickhouse_settings`, which
 * chDB turns into session-wide SETs), the rows it builds from JSONCompactEachRowWithNames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClickHouseClient } from '@clickhouse/client';
import { execute, NO_TIME_LIMIT, readJsonLines, readRows, settingsClause } from '../../../services/store/sql.ts';

interface Call {
  readonly query: string;
  readonly query_params?: Record<string, unknown>;
  readonly format?: string;
  readonly clickhouse_settings?: unknown;
}

function fakeClient(answer: unknown[][] | string): { client: ClickHouseClient; calls: Call[] } {
  const calls: Call[] = [];
  const client = {
    query: async (c: Call) => {
      calls.push(c);
      return { json: async () => answer, text: async () => answer };
    },
    command: async (c: Call) => {
      calls.push(c);
      return {};
    },
  } as unknown as ClickHouseClient;
  return { client, calls };
}

test('readRows: 64-bit integers as numbers and a 60 s limit, in the statement itself; rows keyed by column name', async () => {
  const { client, calls } = fakeClient([
    ['n', 'ip'],
    [3, '::ffff:203.0.113.7'],
    [4, '2001:db8::1'],
  ]);
  const rows = await readRows<{ n: number; ip: string }>(client, 'SELECT n, ip FROM t WHERE x = {x:UInt8}', { x: 1 });
  assert.deepEqual(rows, [
    { n: 3, ip: '::ffff:203.0.113.7' },
    { n: 4, ip: '2001:db8::1' },
  ]);
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.query, 'SELECT n, ip FROM t WHERE x = {x:UInt8}\nSETTINGS output_format_json_quote_64bit_integers = 0, max_execution_time = 60');
  assert.deepEqual(calls[0]!.query_params, { x: 1 });
  assert.equal(calls[0]!.format, 'JSONCompactEachRowWithNames');
  assert.equal(calls[0]!.clickhouse_settings, undefined);
});

test('readRows: no rows at all (not even names) is an empty list', async () => {
  const { client } = fakeClient([]);
  assert.deepEqual(await readRows(client, 'SELECT 1 WHERE 0'), []);
});

test('readRows: settings override by name; null leaves one out (NO_TIME_LIMIT)', async () => {
  const { client, calls } = fakeClient([['a']]);
  await readRows(client, 'SELECT 1 AS a', {}, NO_TIME_LIMIT);
  await readRows(client, 'SELECT 1 AS a', {}, { settings: { max_execution_time: 5, max_threads: 2 } });
  assert.equal(calls[0]!.query, 'SELECT 1 AS a\nSETTINGS output_format_json_quote_64bit_integers = 0');
  assert.equal(calls[1]!.query, 'SELECT 1 AS a\nSETTINGS output_format_json_quote_64bit_integers = 0, max_execution_time = 5, max_threads = 2');
});

test('readJsonLines: ClickHouse text as printed, only the settings given; execute: parameters only', async () => {
  const { client, calls } = fakeClient('{"a":"1"}\n');
  assert.equal(await readJsonLines(client, 'SELECT a', {}, { settings: { max_execution_time: 120 } }), '{"a":"1"}\n');
  assert.equal(calls[0]!.query, 'SELECT a\nSETTINGS max_execution_time = 120');
  assert.equal(calls[0]!.format, 'JSONEachRow');
  await readJsonLines(client, 'SELECT a');
  assert.equal(calls[1]!.query, 'SELECT a');
  await execute(client, 'INSERT INTO t SELECT {v:String}', { v: "it's" });
  assert.deepEqual(calls[2], { query: 'INSERT INTO t SELECT {v:String}', query_params: { v: "it's" } });
});

test('settingsClause: string values quoted and escaped, names checked', () => {
  assert.equal(settingsClause({}), '');
  assert.equal(settingsClause({ a: null }), '');
  assert.equal(settingsClause({ date_time_input_format: "best'effort\\" }), "\nSETTINGS date_time_input_format = 'best\\'effort\\\\'");
  assert.throws(() => settingsClause({ 'x = 1; DROP': 1 }), /invalid setting name/);
});
