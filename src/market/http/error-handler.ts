import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { errorFields, type Logger } from '../../node/log.js';
import { MarketError } from '../errors.js';

/** The JSON error body every route answers with. */
export interface ErrorBody {
  error: { code: string; message: string; [detail: string]: unknown };
}

export function sendError(reply: FastifyReply, err: MarketError): FastifyReply {
  return reply
    .code(err.status)
    .send({ error: { code: err.code, message: err.message, ...err.details } } satisfies ErrorBody);
}

/** Fastify's own 4xx errors, by code, as the market names them. */
const FASTIFY_CODES: Record<string, { code: string; status: number; message: (e: FastifyError) => string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'BODY_TOO_LARGE',
    status: 413,
    message: () => 'request body is larger than the limit; send a smaller body (upload large input as slices)',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    status: 415,
    message: () => 'unsupported Content-Type; send application/json (or application/octet-stream for a slice upload)',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'MALFORMED_REQUEST',
    status: 400,
    message: () => 'Content-Length does not match the body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'MALFORMED_JSON',
    status: 400,
    message: () => 'the body is empty but Content-Type is application/json; send a JSON object',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: 'MALFORMED_JSON',
    status: 400,
    message: (e) => `the body is not valid JSON (${e.message})`,
  },
};

/** Maps every error to {error: {code, message}}: bad input is never a 500; an internal error is logged once to `logger`, with its stack. */
export function registerErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof MarketError) return sendError(reply, err);
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext === 'body' ? '' : `${err.validationContext ?? 'request'} `;
      const issues = err.validation.map((v) => {
        const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
        const unknownKeys = v.keyword === 'unrecognized_keys' ? ((v.params as { keys?: string[] }).keys ?? []) : [];
        if (unknownKeys.length > 0) {
          const field = [path, unknownKeys[0]].filter(Boolean).join('.');
          return { field, message: `${where}${field}: unknown field (${unknownKeys.join(', ')} not allowed here)` };
        }
        const field = path || (err.validationContext ?? 'body');
        return { field, message: `${where}${field}: ${v.message}` };
      });
      const first = issues[0] as { field: string; message: string };
      return sendError(reply, new MarketError('INVALID_FIELD', 400, first.message, { field: first.field, issues }));
    }
    const known = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (known) return sendError(reply, new MarketError(known.code, known.status, known.message(err)));
    if (err instanceof SyntaxError || (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)) {
      return sendError(
        reply,
        new MarketError('MALFORMED_REQUEST', err.statusCode ?? 400, `the request could not be read (${err.message})`),
      );
    }
    logger.error('request failed', {
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0],
      request_id: request.id,
      ...errorFields(err),
    });
    return sendError(
      reply,
      new MarketError('INTERNAL', 500, 'the market failed to handle this request; it has been logged'),
    );
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new MarketError(
        'NOT_FOUND',
        404,
        `no route ${request.method} ${request.url.split('?')[0]}; see docs/market-api.md`,
      ),
    ),
  );
}
