import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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

/** What the market answers to an error that Fastify's router meets before any route (Fastify's `frameworkErrors` option). */
export function frameworkErrors(logger: Logger) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = request.url.split('?')[0] ?? '';
    const shown = path.length > 120 ? `${path.slice(0, 120)}…` : path;
    if (err.code === 'FST_ERR_MAX_PARAM_LENGTH')
      return sendError(
        reply,
        new MarketError(
          'URI_TOO_LONG',
          414,
          `a path segment of ${shown} is longer than ${MAX_PARAM_LENGTH} characters; ids in paths are UUIDs`,
        ),
      );
    if (err.code === 'FST_ERR_BAD_URL')
      return sendError(
        reply,
        new MarketError('MALFORMED_REQUEST', 400, `the URL path ${shown} is not valid percent-encoded UTF-8`),
      );
    logger.error('request failed before routing', { method: request.method, ...errorFields(err) });
    return sendError(
      reply,
      new MarketError('INTERNAL', 500, 'the market failed to handle this request; it has been logged'),
    );
  };
}

/** Longest path parameter the router takes (Fastify's `maxParamLength`); a longer one is 414 URI_TOO_LONG. */
export const MAX_PARAM_LENGTH = 100;

/** Node's limit on the request line and headers together (`--max-http-header-size`, 16 KiB by default). */
const HEADER_LIMIT = 16 * 1024;

/**
 * The answer to a request Node's HTTP parser refuses before Fastify sees it (the server's
 * `clientError` event): the same `{"error":{"code","message"}}` body every route answers with,
 * written to the socket, which is then closed.
 */
export function clientErrorResponse(err: Error & { code?: string; reason?: string }): {
  status: number;
  body: ErrorBody;
} {
  const answer = (status: number, code: string, message: string) => ({ status, body: { error: { code, message } } });
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return answer(408, 'REQUEST_TIMEOUT', 'the request did not arrive in full in time; send it again');
    case 'HPE_HEADER_OVERFLOW':
      return answer(
        431,
        'HEADERS_TOO_LARGE',
        `the request line and headers are over ${HEADER_LIMIT} bytes; send a shorter URL or fewer headers`,
      );
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return answer(
        400,
        'MALFORMED_REQUEST',
        'the request has more than one Content-Length header, or Content-Length beside Transfer-Encoding: chunked; send one',
      );
    default:
      return answer(
        400,
        'MALFORMED_REQUEST',
        `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'}${err.reason ? `: ${err.reason}` : ''})`,
      );
  }
}

/** Fastify's `clientErrorHandler`: answers `clientErrorResponse` on the socket when it still can, then closes it. */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  // A reset connection, or a socket already answered or gone: nothing can be written.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const { status, body } = clientErrorResponse(err);
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
