import type { FastifyInstance } from 'fastify';
import { findJsonTextProblem } from '../../shared/json-text-check.js';
import { MarketError } from '../errors.js';

/** A parse error's message as one printable line (it may quote bytes of the body). */
function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  const clean = message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/[\ud800-\udfff]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

/**
 * The market's `application/json` body parser, in place of Fastify's: JSON.parse, then every
 * string and key is checked (findJsonTextProblem) so NUL, a lone surrogate or a `__proto__` key is
 * a 400 naming the field — before any schema or store sees it — instead of a store error (500) or
 * a generic "not valid JSON". JSON.parse makes `__proto__` an own data property, never a
 * prototype, so the check runs on a harmless object.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    let text = body as string;
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.length === 0)
      return done(
        new MarketError(
          'MALFORMED_JSON',
          400,
          'the body is empty but Content-Type is application/json; send a JSON object',
        ),
        undefined,
      );
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done(
        new MarketError(
          'MALFORMED_JSON',
          400,
          `the body is not valid JSON (${oneLine(err instanceof Error ? err.message : String(err))})`,
        ),
        undefined,
      );
    }
    const bad = findJsonTextProblem(value);
    if (bad) {
      const field = bad.path === '' ? 'body' : bad.path;
      return done(new MarketError('INVALID_FIELD', 400, `${field}: ${bad.problem}`, { field }), undefined);
    }
    done(null, value);
  });
}
