import { randomUUID } from 'node:crypto';
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { z } from 'zod';
import { errorFields, type Logger } from '../../node/log.js';
import {
  CLOSE_CODES,
  MARKET_PROTOCOL_VERSION,
  MAX_PROVIDER_FRAME_BYTES,
  MAX_WELCOME_INSTANCES,
  parseFrame,
  ProviderFrame,
  type ErrorFrame,
  type MarketFrame,
} from '../../shared/market-protocol.js';
import { ValidatorClosingError, type ProviderSession, type ValidatorService } from '../validator/validator-service.js';

export interface ProviderSocketDeps {
  validator: ValidatorService;
  /** Where the socket's internal errors go, once each with their stack (never a client's mistake). */
  logger: Logger;
  /**
   * The URLs of this market's other live instances, named in each welcome (`instances`) so a node
   * can fail over to them; absent or empty: the welcome names none.
   */
  peerUrls?: () => Promise<string[]>;
}

/** Hard cap the ws library enforces (it closes with 1009 on its own above it); below it the market answers an error frame first. */
const WS_HARD_MAX = MAX_PROVIDER_FRAME_BYTES * 4;

/**
 * `GET /ws/provider`: the provider socket (docs/market-api.md, "Provider socket"). Every frame is
 * parsed with the protocol's zod schema; a bad frame gets an `error` frame and a close with a
 * documented code, and nothing in the store changes. The socket never throws into the server.
 */
export async function registerProviderSocket(app: FastifyInstance, deps: ProviderSocketDeps): Promise<void> {
  await app.register(websocket, { options: { maxPayload: WS_HARD_MAX } });
  app.get('/ws/provider', { websocket: true }, (socket: WebSocket) => handleSocket(socket, deps));
}

type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

function handleSocket(socket: WebSocket, deps: ProviderSocketDeps): void {
  const v = deps.validator;
  const report = (what: string, err: unknown): void =>
    deps.logger.error(`provider socket ${what} failed`, { what, ...errorFields(err) });
  const nonce = v.newChallenge();
  let session: (ProviderSession & { capabilities: ProviderSession['capabilities'] }) | undefined;
  let authed: { address: string; publicKey: string } | undefined;
  let chain: Promise<void> = Promise.resolve();
  let closed = false;
  // Heartbeats run beside the frame chain, coalesced to the latest one, so a result frame never
  // waits behind lease bookkeeping; each is judged by its arrival time.
  let nextBeat: { sentAt: number; seenAt: number } | undefined;
  let beating = false;
  const beat = (s: ProviderSession): void => {
    if (beating) return;
    beating = true;
    void (async () => {
      try {
        while (nextBeat && !closed) {
          const hb = nextBeat;
          nextBeat = undefined;
          await v.heartbeat(s, hb.sentAt, hb.seenAt);
        }
      } catch (err) {
        if (!(err instanceof ValidatorClosingError)) report('heartbeat', err);
      } finally {
        beating = false;
      }
    })();
  };

  // Send-buffer limits (docs/market-api.md, "Slow consumers"): a provider that does not read what
  // it is sent must not make the market buffer without bound.
  const soft = v.config.sendBufferSoftBytes;
  const hard = v.config.sendBufferHardBytes;
  /** Runs while the send buffer is above the soft limit: drops the provider unless it drains first. */
  let slowTimer: NodeJS.Timeout | undefined;
  const congested = (): boolean => closed || socket.readyState !== socket.OPEN || socket.bufferedAmount > soft;
  const dropSlow = (why: string): void => {
    if (closed) return;
    closed = true;
    clearTimeout(slowTimer);
    const s = session;
    deps.logger.warn('provider dropped: it does not read what the market sends', {
      address: s?.address ?? authed?.address ?? null,
      buffered_bytes: socket.bufferedAmount,
      why,
    });
    if (s) {
      v.leave(s);
      // Its jobs go back through the lost-lease path (requeued, or handed to a standby).
      for (const jobId of [...s.inFlight])
        v.jobLost(s, jobId, `slow consumer: ${why}`).catch((err: unknown) => {
          if (!(err instanceof ValidatorClosingError)) report('slow consumer requeue', err);
        });
    }
    const message = `the provider ${why}; read every frame promptly, then reconnect`;
    socket.send(JSON.stringify({ type: 'error', code: 'SLOW_CONSUMER', message } satisfies z.infer<typeof ErrorFrame>));
    socket.close(CLOSE_CODES.slowConsumer, 'SLOW_CONSUMER');
  };
  /** After each write reaches the network: once the buffer is back under the soft limit, jobs flow again. */
  const written = (): void => {
    if (slowTimer === undefined || closed || socket.bufferedAmount > soft) return;
    clearTimeout(slowTimer);
    slowTimer = undefined;
    v.kick();
  };
  const watchBuffer = (): void => {
    const buffered = socket.bufferedAmount;
    if (buffered > hard)
      return dropSlow(`did not read: ${buffered} bytes wait in its send buffer, over the ${hard}-byte limit`);
    if (buffered <= soft || slowTimer !== undefined) return;
    slowTimer = setTimeout(() => {
      slowTimer = undefined;
      if (socket.bufferedAmount > soft)
        dropSlow(`did not read: its send buffer stayed over ${soft} bytes for ${v.config.slowConsumerMs} ms`);
      else v.kick();
    }, v.config.slowConsumerMs);
    slowTimer.unref();
  };
  const send = (frame: MarketFrame): void => {
    if (frame.type === 'job' && session && congested()) {
      // Not sent: the lease goes back through the lost-lease path at once rather than waiting for its silence.
      const s = session;
      v.jobLost(s, frame.job_id, 'not sent: the provider socket is not reading (send buffer over its limit)').catch(
        (err: unknown) => {
          if (!(err instanceof ValidatorClosingError)) report('withheld job requeue', err);
        },
      );
      return;
    }
    if (socket.readyState !== socket.OPEN) return;
    socket.send(JSON.stringify(frame), written);
    watchBuffer();
  };
  const fail = (code: CloseCode, errCode: string, message: string): void => {
    send({ type: 'error', code: errCode, message } satisfies z.infer<typeof ErrorFrame>);
    closed = true;
    socket.close(code, errCode);
  };
  const timer = setTimeout(() => {
    if (!authed)
      fail(CLOSE_CODES.authTimeout, 'AUTH_TIMEOUT', 'no auth frame within the allowed time after the challenge');
  }, v.config.authTimeoutMs);
  timer.unref();
  // Ping/pong (docs/market-api.md, "Liveness"): a socket that answers nothing is closed and its
  // session ends at once, without waiting for a close handshake that cannot complete.
  const live = v.liveness.track({
    ping: () => {
      if (socket.readyState === socket.OPEN) socket.ping();
    },
    dead: (silentMs) => {
      fail(
        CLOSE_CODES.unresponsive,
        'UNRESPONSIVE',
        `nothing heard on this socket for ${Math.round(silentMs / 1000)} s, ping unanswered; reconnect`,
      );
      if (session) v.leave(session);
      socket.terminate();
    },
  });
  socket.on('pong', () => live.heard());
  socket.on('ping', () => live.heard());

  send({
    type: 'challenge',
    version: MARKET_PROTOCOL_VERSION,
    market_id: v.marketId,
    nonce,
    practice: v.config.practice,
  });

  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (closed) return;
    live.heard();
    // Arrival time, read before the frame waits behind earlier frames: result freshness is judged against it.
    const receivedAt = v.now();
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
    if (size > MAX_PROVIDER_FRAME_BYTES)
      return fail(
        CLOSE_CODES.tooBig,
        'FRAME_TOO_LARGE',
        `frame of ${size} bytes is over the ${MAX_PROVIDER_FRAME_BYTES}-byte limit`,
      );
    if (isBinary)
      return fail(
        CLOSE_CODES.malformed,
        'MALFORMED_FRAME',
        'binary frames are not part of the protocol; send JSON text frames',
      );
    const text = Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data as Buffer).toString('utf8');
    const parsed = parseFrame(ProviderFrame, text);
    if (!parsed.ok) return fail(CLOSE_CODES.malformed, 'MALFORMED_FRAME', parsed.message);
    const frame = parsed.frame;
    chain = chain
      .then(async () => {
        if (closed) return;
        if (!authed) {
          if (frame.type !== 'auth')
            return fail(
              CLOSE_CODES.unauthenticated,
              'UNAUTHENTICATED',
              `"${frame.type}" before auth; answer the challenge with an auth frame first`,
            );
          const res = await v.authenticate(frame.public_key, frame.signature, nonce);
          if (!res.ok)
            return fail(
              res.code === 'refused' ? CLOSE_CODES.refused : CLOSE_CODES.unauthenticated,
              res.code === 'refused' ? 'PROVIDER_REFUSED' : 'UNAUTHENTICATED',
              res.message,
            );
          authed = { address: res.address, publicKey: frame.public_key };
          clearTimeout(timer);
          return;
        }
        if (frame.type === 'auth')
          return fail(CLOSE_CODES.wrongState, 'WRONG_STATE', 'already authenticated; send auth once');
        if (!session) {
          if (frame.type !== 'capabilities')
            return fail(
              CLOSE_CODES.wrongState,
              'WRONG_STATE',
              `"${frame.type}" before capabilities; announce capabilities after auth`,
            );
          session = {
            id: randomUUID(),
            address: authed.address,
            publicKey: authed.publicKey,
            capabilities: frame,
            inFlight: new Set(),
            get congested() {
              return congested();
            },
            send,
            close: (code, reason) => {
              closed = true;
              socket.close(code, reason);
            },
          };
          const address = authed.address;
          const instances = await peerInstances(deps, report);
          // The validator sends the welcome first, then the receipts still unacknowledged.
          await v.join(session, (leased, probation) => ({
            type: 'welcome',
            address,
            heartbeat_ms: v.config.heartbeatMs,
            leased_jobs: leased,
            server_time: v.now(),
            market_key: v.marketKey,
            ...(instances.length > 0 ? { instances } : {}),
            ...(probation ? { probation } : {}),
          }));
          return;
        }
        switch (frame.type) {
          case 'capabilities':
            session.capabilities = frame;
            v.kick();
            return;
          case 'heartbeat':
            nextBeat = { sentAt: frame.sent_at, seenAt: receivedAt };
            beat(session);
            return;
          case 'result': {
            const s = session;
            // Results are verified concurrently; each answer goes back once its commit is durable.
            void v
              .submitResult(s, frame, receivedAt)
              .then((ack) =>
                send({
                  type: 'result_ack',
                  job_id: ack.jobId,
                  epoch: ack.epoch,
                  accepted: ack.accepted,
                  code: ack.code,
                  message: ack.message,
                }),
              )
              .catch((err: unknown) => {
                if (err instanceof ValidatorClosingError) return;
                report('result', err);
                send({
                  type: 'result_ack',
                  job_id: frame.result.job_id,
                  epoch: frame.epoch,
                  accepted: false,
                  code: 'INTERNAL',
                  message: 'the market could not settle this result; send it again',
                });
              });
            return;
          }
          case 'job_lost':
            await v.jobLost(session, frame.job_id, frame.reason);
            return;
          case 'receipt_ack':
            // Committed in a group beside the frame chain (a failed group is reported by the validator; the receipt is sent again at the next join).
            v.receiptAck(session, frame.idempotency_key).catch(() => undefined);
            return;
        }
      })
      .catch((err: unknown) => {
        report('frame', err);
        fail(CLOSE_CODES.internalError, 'INTERNAL', 'the market failed on this frame (it has been logged); reconnect');
      });
  });
  socket.on('close', () => {
    closed = true;
    live.untrack();
    clearTimeout(timer);
    clearTimeout(slowTimer);
    if (session) v.leave(session);
  });
  socket.on('error', (err) => report('socket', err));
}

/** The other instances' URLs for a welcome (at most MAX_WELCOME_INSTANCES); none when `peerUrls` is absent or fails (logged). */
async function peerInstances(
  deps: ProviderSocketDeps,
  report: (what: string, err: unknown) => void,
): Promise<string[]> {
  if (!deps.peerUrls) return [];
  try {
    const urls = await deps.peerUrls();
    return urls
      .filter((u) => typeof u === 'string' && u.length > 0 && u.length <= 2048)
      .slice(0, MAX_WELCOME_INSTANCES);
  } catch (err) {
    report('listing the market instances', err);
    return [];
  }
}
