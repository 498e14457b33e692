import { describe, expect, it } from 'vitest';
import { SocketLiveness } from '../../src/node/socket-liveness.js';
import { manualClock } from '../support/clock.js';

function harness(pingMs = 15_000, deadMs = 45_000) {
  const clock = manualClock(1_000_000);
  const errors: unknown[] = [];
  const live = new SocketLiveness(
    { pingMs, deadMs },
    () => clock.now(),
    (err) => errors.push(err),
  );
  const log: string[] = [];
  const peer = (name: string) =>
    live.track({ ping: () => log.push(`ping ${name}`), dead: (ms) => log.push(`dead ${name} ${ms}`) });
  return { clock, live, log, peer, errors };
}

describe('socket liveness rule', () => {
  it('pings a socket silent for pingMs, and drops it when nothing comes back deadMs after the last frame', () => {
    const { clock, live, log, peer } = harness();
    peer('a');
    clock.advance(14_999);
    expect(live.checkNow()).toEqual({ pinged: 0, dead: 0 });
    clock.advance(1);
    expect(live.checkNow()).toEqual({ pinged: 1, dead: 0 });
    expect(live.checkNow()).toEqual({ pinged: 0, dead: 0 }); // one ping outstanding at a time
    clock.advance(29_999);
    expect(live.checkNow()).toEqual({ pinged: 0, dead: 0 });
    clock.advance(1);
    expect(live.checkNow()).toEqual({ pinged: 0, dead: 1 });
    expect(log).toEqual(['ping a', 'dead a 45000']);
    expect(live.size).toBe(0); // a dropped socket is no longer tracked
  });

  it('anything heard clears the outstanding ping and restarts the silence', () => {
    const { clock, live, log, peer } = harness();
    const a = peer('a');
    clock.advance(15_000);
    live.checkNow();
    clock.advance(29_000);
    a.heard(); // the pong (or any frame)
    clock.advance(14_999);
    expect(live.checkNow()).toEqual({ pinged: 0, dead: 0 });
    clock.advance(1);
    expect(live.checkNow()).toEqual({ pinged: 1, dead: 0 });
    expect(log).toEqual(['ping a', 'ping a']);
  });

  it('after a clock jump (a laptop asleep) a socket is pinged first, and dropped only if the ping goes unanswered', () => {
    const { clock, live, log, peer } = harness();
    peer('a');
    clock.advance(10 * 60_000);
    expect(live.checkNow()).toEqual({ pinged: 1, dead: 0 });
    clock.advance(30_000);
    expect(live.checkNow()).toEqual({ pinged: 0, dead: 1 });
    expect(log).toEqual(['ping a', 'dead a 630000']);
  });

  it('judges each socket on its own; an untracked one is forgotten; a throwing ping is reported and the pass goes on', () => {
    const { clock, live, log, peer, errors } = harness();
    const a = peer('a');
    live.track({
      ping: () => {
        throw new Error('socket gone');
      },
      dead: () => undefined,
    });
    const c = peer('c');
    clock.advance(15_000);
    c.heard();
    expect(live.checkNow()).toEqual({ pinged: 2, dead: 0 });
    expect(errors.map(String)).toEqual(['Error: socket gone']);
    a.untrack();
    clock.advance(30_000);
    expect(live.checkNow()).toEqual({ pinged: 1, dead: 1 }); // the thrower is dead, c is pinged
    expect(log).toEqual(['ping a', 'ping c']);
  });

  it('refuses timings that cannot work, naming the setting', () => {
    expect(
      () =>
        new SocketLiveness(
          { pingMs: 0, deadMs: 10 },
          () => 0,
          () => undefined,
        ),
    ).toThrow(/pingMs must be/);
    expect(
      () =>
        new SocketLiveness(
          { pingMs: 10, deadMs: 10 },
          () => 0,
          () => undefined,
        ),
    ).toThrow(/deadMs must be a whole number of ms greater than pingMs/);
  });
});
