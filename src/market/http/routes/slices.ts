import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Readable } from 'node:stream';
import { MarketError } from '../../errors.js';
import type { TaskService } from '../../services/task-service.js';
import { customerOf, requireCustomer, type CustomerAuth } from '../auth.js';
import type { MarketMetrics } from '../metrics.js';
import { sliceParams } from '../task-schemas.js';

export interface SliceRoutesDeps {
  tasks: TaskService;
  auth: CustomerAuth;
  metrics: MarketMetrics;
}

/**
 * PUT /tasks/{task_id}/slices/{n}: raw bytes (application/octet-stream), streamed into the store.
 * Its own plugin, so only this route accepts octet-stream and it accepts nothing else.
 */
export async function sliceRoutes(app: FastifyInstance, deps: SliceRoutesDeps): Promise<void> {
  requireCustomer(app, deps.auth);
  app.removeAllContentTypeParsers();
  // Pass the request stream through unread: TaskService streams it into the store with its own size limit.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
  const max = deps.tasks.sliceLimits.maxSliceBytes;

  app
    .withTypeProvider<ZodTypeProvider>()
    .put('/tasks/:task_id/slices/:n', { schema: { params: sliceParams } }, async (request, reply) => {
      const declared = Number(request.headers['content-length'] ?? Number.NaN);
      if (declared > max)
        throw new MarketError(
          'SLICE_TOO_LARGE',
          413,
          `slice ${request.params.n} is ${declared} bytes, over the limit of ${max}; split the input into more slices`,
        );
      const body = request.body as Readable | undefined;
      if (!body)
        throw new MarketError(
          'UNSUPPORTED_MEDIA_TYPE',
          415,
          'a slice upload needs Content-Type: application/octet-stream and a body',
        );
      let slice;
      try {
        slice = await deps.tasks.putSlice(
          customerOf(request),
          request.params.task_id,
          request.params.n,
          body,
          Number.isFinite(declared) ? declared : undefined,
        );
      } catch (err) {
        // Refused before the body was read to its end (a limit hit while streaming): the rest is
        // not read, so the connection cannot carry another request — say so, or the client's
        // next request on it is reset.
        if (!body.readableEnded) void reply.header('connection', 'close');
        throw err;
      }
      deps.metrics.slicesUploaded.inc(slice.bytes);
      return reply.code(201).send({ task_id: slice.taskId, n: slice.n, bytes: slice.bytes, blake3: slice.blake3 });
    });
}
