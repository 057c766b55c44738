/**
 * The JSON body parser: Fastify's own (which refuses `__proto__` and `constructor` keys), behind
 * a bound on nesting depth. Validation error messages, the idempotency hash and storage all walk
 * a body recursively, so a body of 100,000 nested arrays (200 KB, well under the size limit)
 * overflowed the stack in each of them. Checked on the raw text, without recursion, before
 * anything parses it.
 */
import type { FastifyInstance } from 'fastify';
import { RequestError } from './error-handler.js';

/** Deepest nesting of objects and arrays a request body may have; a job spec nests 3 levels. */
export const MAX_JSON_DEPTH = 64;

/** Whether a JSON text nests objects and arrays deeper than `limit` (brackets inside strings do not count). */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

export function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (nestsDeeperThan(body as string, MAX_JSON_DEPTH)) {
      return done(
        new RequestError(
          'INVALID_JSON',
          `the request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`,
        ),
        undefined,
      );
    }
    return parse(request, body as string, done);
  });
}
