/**
 * The JSON body parser: fastify's own (secure-json-parse, `__proto__` and `constructor.prototype`
 * refused) behind a linear pre-scan that bounds nesting depth and the number of object keys. A body
 * within the byte limit can still nest thousands of levels deep, and every recursive walk after
 * parsing (validation, the audit row's serialisation) would then overflow the stack; the scan
 * refuses such a body as `invalid_input` before anything recursive sees it.
 */
import type { FastifyInstance } from 'fastify';
import { InvalidInputError } from '../incidents/inputs.ts';

export interface JsonShapeLimits {
  /** Deepest nesting of objects and arrays (the top-level value is depth 1). */
  readonly maxDepth: number;
  /** Object keys in the whole document. */
  readonly maxKeys: number;
}

/**
 * What is wrong with the shape of a JSON text, or null when it is within the limits. Counts brackets
 * and key separators outside strings in one pass without recursion; malformed JSON is left to the parser.
 */
export function jsonShapeProblem(text: string, limits: JsonShapeLimits): string | null {
  let depth = 0;
  let keys = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limits.maxDepth) return `the JSON body nests deeper than ${limits.maxDepth} levels`;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x3a) {
      if (++keys > limits.maxKeys) return `the JSON body has more than ${limits.maxKeys} keys`;
    }
  }
  return null;
}

/** Replaces the app's `application/json` parser with the bounded one (same body limit, same poisoning rules). */
export function registerJsonParser(app: FastifyInstance, limits: JsonShapeLimits): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const problem = jsonShapeProblem(body as string, limits);
    if (problem !== null) {
      done(new InvalidInputError(problem), undefined);
      return;
    }
    void parse(req, body as string, done);
  });
}
