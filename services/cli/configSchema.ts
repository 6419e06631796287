import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Ajv2020 as Ajv2020Class } from 'ajv/dist/2020.js';
import { parseCidr } from '../core/logformat/cidr.ts';

/**
 * The config file's JSON Schema (schemas/config.schema.json, also what editors check with
 * `"$schema": "./schemas/config.schema.json"`) and the messages its violations produce: one per
 * problem, each naming the key by its path (`allowlist`, `sinks.webhooks[0].url`) and what it should
 * be. ajv is loaded on first use, so commands without a config file do not pay for it.
 */

export const CONFIG_SCHEMA_URL = new URL('../../schemas/config.schema.json', import.meta.url);

type Schema = Readonly<Record<string, unknown>> | boolean;

let compiled: { validate: ValidateFunction; schema: Schema } | null = null;

/**
 * A configured ajv (draft 2020-12, every error, the `cidr` format) — the one tilewatch validates with;
 * tests compile the schema with it too.
 */
export function createConfigAjv(): Ajv2020Class {
  const require = createRequire(import.meta.url);
  const { Ajv2020 } = require('ajv/dist/2020.js') as { Ajv2020: typeof Ajv2020Class };
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true });
  ajv.addFormat('cidr', {
    type: 'string',
    validate: (s: string) => {
      try {
        parseCidr(s);
        return true;
      } catch {
        return false;
      }
    },
  });
  return ajv;
}

function compile(): { validate: ValidateFunction; schema: Schema } {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(CONFIG_SCHEMA_URL, 'utf8')) as Schema;
    compiled = { validate: createConfigAjv().compile(schema as object), schema };
  }
  return compiled;
}

/** Problems of a parsed config file, one message each (empty when it fits the schema). */
export function checkConfigFile(data: unknown): string[] {
  const { validate, schema } = compile();
  if (validate(data)) return [];
  return describeErrors(validate.errors ?? [], schema, data);
}

/** `sinks.webhooks[0].url` from `/sinks/webhooks/0/url`; '' for the whole file. */
export function dottedPath(instancePath: string): string {
  if (instancePath === '') return '';
  let out = '';
  for (const raw of instancePath.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `${out === '' ? '' : '.'}${seg}` : `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function describeErrors(errors: readonly ErrorObject[], root: Schema, data: unknown): string[] {
  const out: string[] = [];
  const valueReported = new Set<string>();
  for (const e of errors) {
    // `if` only says which branch applied; the branch's own errors say what is wrong.
    if (e.keyword === 'if') continue;
    const path = dottedPath(e.instancePath);
    const where = path === '' ? '' : `${path}: `;
    if (e.keyword === 'additionalProperties') {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const node = schemaAt(root, e.instancePath);
      const known = Object.keys(propertiesOf(node));
      const secretEnv = `${key}Env`;
      if (known.includes(secretEnv)) {
        out.push(`${dottedPath(`${e.instancePath}/${key}`)}: secrets are not read from the config file; put it in an environment variable and name it in "${secretEnv}"`);
        continue;
      }
      const guess = closest(key, known);
      out.push(`${where}unknown key "${key}"${guess ? ` (did you mean "${guess}"?)` : ''} (expected one of: ${known.join(', ')})`);
      continue;
    }
    if (e.keyword === 'required') {
      out.push(`${where}missing required key "${String((e.params as { missingProperty: string }).missingProperty)}"`);
      continue;
    }
    if (e.keyword === 'propertyNames') continue; // reported through the pattern error on the name itself
    if (e.propertyName !== undefined) {
      out.push(`${where}key ${JSON.stringify(e.propertyName)} is not allowed here (${e.message ?? 'invalid name'})`);
      continue;
    }
    // Type, range, enum, pattern, format …: one message per value, saying what it should be.
    if (valueReported.has(e.instancePath)) continue;
    valueReported.add(e.instancePath);
    const node = schemaAt(root, e.instancePath);
    const value = valueAt(data, e.instancePath);
    const label = path === '' ? 'the file' : path;
    out.push(`${label}: must be ${node === undefined ? (e.message ?? 'valid') : expected(node)}, got ${got(value, node)}`);
  }
  return out;
}

function isObj(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function propertiesOf(node: Schema | undefined): Readonly<Record<string, Schema>> {
  if (!isObj(node)) return {};
  if (isObj(node.properties)) return node.properties as Record<string, Schema>;
  if (isObj(node.then)) return propertiesOf(node.then as Schema);
  return {};
}

/** The schema node a value at `instancePath` is checked against (properties, items, $ref, if/then). */
function schemaAt(root: Schema, instancePath: string): Schema | undefined {
  let node: Schema | undefined = resolve(root, root);
  for (const raw of instancePath === '' ? [] : instancePath.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObj(node)) return undefined;
    const obj: Readonly<Record<string, unknown>> = isObj(node.then) ? (node.then as Record<string, unknown>) : node;
    const props = propertiesOf(obj);
    if (/^\d+$/.test(seg) && obj.items !== undefined) node = obj.items as Schema;
    else if (seg in props) node = props[seg];
    else if (obj.additionalProperties !== undefined && typeof obj.additionalProperties !== 'boolean') node = obj.additionalProperties as Schema;
    else return undefined;
    node = resolve(root, node);
  }
  return node;
}

function resolve(root: Schema, node: Schema | undefined): Schema | undefined {
  if (isObj(node) && typeof node.$ref === 'string' && node.$ref.startsWith('#/')) {
    let target: unknown = root;
    for (const seg of node.$ref.slice(2).split('/')) target = isObj(target) ? target[seg] : undefined;
    return target as Schema | undefined;
  }
  return node;
}

function valueAt(data: unknown, instancePath: string): unknown {
  let v = data;
  for (const raw of instancePath === '' ? [] : instancePath.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    v = Array.isArray(v) ? v[Number(seg)] : isObj(v) ? v[seg] : undefined;
  }
  return v;
}

const fmt = (n: unknown): string => (typeof n === 'number' ? String(n) : JSON.stringify(n));

/** What a value checked against `node` must be, in words: "an integer from 5 to 3600", "an array of CIDR strings". */
export function expected(node: Schema, plural = false): string {
  if (!isObj(node)) return node ? 'anything' : 'absent';
  if (isObj(node.then)) return `${expected(node.then as Schema, plural)} or ${expected(node.else as Schema, plural)}`;
  if (node.const !== undefined) return fmt(node.const);
  if (Array.isArray(node.enum)) return `one of ${node.enum.map(fmt).join(', ')}`;
  const a = (singular: string, many: string, article = 'a'): string => (plural ? many : `${article} ${singular}`);
  switch (node.type) {
    case 'array':
      return `${plural ? 'arrays' : `${node.minItems === 1 ? 'a non-empty' : 'an'} array`} of ${node.items === undefined ? 'values' : expected(node.items as Schema, true)}`;
    case 'object':
      return a('object', 'objects', 'an');
    case 'boolean':
      return 'true or false';
    case 'string': {
      if (node.format === 'cidr') return a('CIDR string (address/prefix, e.g. 10.0.0.0/8)', 'CIDR strings');
      if (typeof node.pattern === 'string' && node.pattern.startsWith('^https?://')) return a('http or https URL', 'http or https URLs', 'an');
      if (node.pattern === '^[A-Za-z_][A-Za-z0-9_]*$') return a('name of letters, digits and _ (not starting with a digit)', 'names of letters, digits and _');
      if (typeof node.pattern === 'string') return a(`string matching ${node.pattern}`, `strings matching ${node.pattern}`);
      return node.minLength === 1 ? a('non-empty string', 'non-empty strings') : a('string', 'strings');
    }
    case 'integer':
    case 'number': {
      const kind = node.type === 'integer' ? a('integer', 'integers', 'an') : a('number', 'numbers');
      const lo = node.minimum ?? node.exclusiveMinimum;
      const hi = node.maximum;
      if (node.minimum !== undefined && hi !== undefined) return `${kind} from ${fmt(lo)} to ${fmt(hi)}`;
      if (node.exclusiveMinimum !== undefined && hi !== undefined) return `${kind} above ${fmt(lo)} and at most ${fmt(hi)}`;
      if (node.minimum !== undefined) return `${kind} ≥ ${fmt(lo)}`;
      if (node.exclusiveMinimum !== undefined) return `${kind} > ${fmt(lo)}`;
      return kind;
    }
    default:
      return 'valid';
  }
}

/** The value as shown after "got": itself when of the expected kind (a bad value), else its kind (a wrong type). */
function got(v: unknown, node: Schema | undefined): string {
  const kind = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  const typeOf = (n: unknown): unknown[] => {
    if (!isObj(n)) return [];
    if (isObj(n.then)) return [...typeOf(n.then), ...typeOf(n.else)];
    if (n.const !== undefined) return [typeof n.const];
    if (Array.isArray(n.enum)) return n.enum.map((x) => typeof x);
    return [n.type === 'integer' ? 'number' : n.type];
  };
  const scalar = kind === 'number' || kind === 'string' || kind === 'boolean' || kind === 'null';
  // A value of the right type but out of range (or too short) is shown; a value of the wrong type is named.
  if ((scalar && !isObj(node)) || typeOf(node).includes(kind)) {
    const s = kind === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v);
    return s.length > 80 ? `${s.slice(0, 77)}…` : s;
  }
  const names: Readonly<Record<string, string>> = { array: 'an array', object: 'an object', string: 'a string', number: 'a number', boolean: String(v), null: 'null' };
  return names[kind] ?? kind;
}

/** A known key within two edits (or sharing a prefix) of a misspelt one, for "did you mean". */
function closest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  const k = key.toLowerCase();
  for (const cand of known) {
    const c = cand.toLowerCase();
    const d = c.startsWith(k) || k.startsWith(c) ? Math.min(1, Math.abs(c.length - k.length)) : editDistance(k, c);
    if (d < bestD) [best, bestD] = [cand, d];
  }
  return bestD <= Math.max(2, Math.floor(key.length / 4)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
