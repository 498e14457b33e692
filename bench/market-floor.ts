/**
 * The per-job floor of a market process on this machine (`npm run bench:market-floor`): the CPU of
 * the transport and signatures one job needs, each measured on its own with nothing of the market
 * around it, against one PostgreSQL round trip measured in the same run. It answers "how low could
 * the market's CPU per job go with this stack": the market itself measures 1.9–3.5 ms per job
 * (`npm run bench:market -- --instances 1`).
 *
 * Per job the market answers one `POST /tasks` (Fastify, JSON body, 201 JSON answer), takes one
 * result frame in and sends one job frame out (ws), verifies the result's Ed25519 signature and
 * signs a receipt. The HTTP and WebSocket servers run in a child process whose own CPU is read;
 * the load comes from this process.
 *
 * Usage: npm run bench:market-floor [-- --quick]
 * PostgreSQL (the round-trip reference): TESSERA_TEST_PG_URL; without it that line is skipped.
 */
import { fork } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import WebSocket from 'ws';
import { machine } from './common.js';

const quick = process.argv.includes('--quick');
const N = quick ? 1000 : 4000;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The child: a Fastify POST route and a WebSocket echo of a job frame per result frame; reports its CPU on request. */
async function serve(): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const { WebSocketServer } = await import('ws');
  const app = Fastify();
  app.post('/tasks', async (_req, reply) => {
    reply.code(201);
    return { task_id: '550e8400-e29b-41d4-a716-446655440000', status: 'pending', created_at: 1 };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  const jobFrame = JSON.stringify({
    type: 'job',
    job_id: '550e8400-e29b-41d4-a716-446655440000',
    task_id: '650e8400-e29b-41d4-a716-446655440000',
    workload: 'inference',
    gpu_required: false,
    lane: 'consumer',
    slice: { encoding: 'base64', data: 'A'.repeat(120), bytes: 90 },
    offer: '2500',
    epoch: 1,
    deadline: 1,
    assignment_key: 'f'.repeat(64),
    synthetic: null,
  });
  wss.on('connection', (s) =>
    s.on('message', (m: Buffer) => {
      JSON.parse(m.toString('utf8'));
      s.send(jobFrame);
    }),
  );
  process.send?.({
    http: (app.server.address() as { port: number }).port,
    ws: (wss.address() as { port: number }).port,
  });
  process.on('message', (m) => {
    if (m === 'cpu') process.send?.({ cpu: cpuMs() });
    if (m === 'exit') process.exit(0);
  });
}

async function main(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: process.execArgv });
  const next = () => new Promise<Record<string, number>>((r) => child.once('message', (m) => r(m as never)));
  const ports = await next();
  const childCpu = async () => {
    child.send('cpu');
    return (await next()).cpu as number;
  };

  // HTTP: 8 requests in flight, as the bench's customer posts.
  const body = JSON.stringify({
    challenge_type: 'inference',
    payload: { model_id: 'bench-model', prompt: 'bench task 1', max_tokens: 16 },
    reward: '0.01',
  });
  const post = () =>
    fetch(`http://127.0.0.1:${ports.http}/tasks`, {
      method: 'POST',
      headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
      body,
    }).then((r) => r.json());
  for (let i = 0; i < 300; i++) await post();
  let c0 = await childCpu();
  for (let i = 0; i < N; i += 8) await Promise.all(Array.from({ length: 8 }, post));
  const http = ((await childCpu()) - c0) / N;

  // WebSocket: a signed-result-sized frame in, a job frame out, 8 in flight.
  const result = JSON.stringify({
    type: 'result',
    epoch: 1,
    result: {
      job_id: '550e8400-e29b-41d4-a716-446655440000',
      result_hash: 'a'.repeat(64),
      proof: 'b'.repeat(64),
      worker: `cpc1${'q'.repeat(38)}`,
      signature: 'c'.repeat(128),
      created_at: 1,
      nonce: 'd'.repeat(32),
    },
  });
  const ws = new WebSocket(`ws://127.0.0.1:${ports.ws}`);
  await new Promise((r) => ws.once('open', r));
  let got = 0;
  let done: () => void = () => undefined;
  ws.on('message', () => {
    if (++got % 8 === 0) done();
  });
  const round = () =>
    new Promise<void>((r) => {
      done = r;
      for (let i = 0; i < 8; i++) ws.send(result);
    });
  for (let i = 0; i < 40; i++) await round();
  c0 = await childCpu();
  for (let i = 0; i < N / 8; i++) await round();
  const frames = ((await childCpu()) - c0) / N;
  ws.close();

  // Ed25519: verify the result, sign the receipt (this process).
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const data = Buffer.alloc(200, 7);
  const sig = sign(null, data, privateKey);
  c0 = cpuMs();
  for (let i = 0; i < N; i++) {
    verify(null, data, publicKey, sig);
    sign(null, data, privateKey);
  }
  const crypto = (cpuMs() - c0) / N;

  // The reference: one PostgreSQL round trip (a prepared SELECT 1), client CPU.
  let roundTrip: number | undefined;
  const url = process.env.TESSERA_TEST_PG_URL;
  if (url) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    for (let i = 0; i < 300; i++) await c.query({ name: 'one', text: 'SELECT 1' });
    c0 = cpuMs();
    for (let i = 0; i < N; i++) await c.query({ name: 'one', text: 'SELECT 1' });
    roundTrip = (cpuMs() - c0) / N;
    await c.end();
  }
  child.send('exit');

  const floor = http + frames + crypto;
  const f = (x: number) => `${x.toFixed(3)} ms`;
  console.log(`bench:market-floor${quick ? ' --quick' : ''}; ${machine()}; ${new Date().toISOString()}; ${N} each`);
  console.log('| per job | CPU | × one PostgreSQL round trip |');
  console.log('| --- | --- | --- |');
  const row = (what: string, x: number) =>
    console.log(`| ${what} | ${f(x)} | ${roundTrip ? `${(x / roundTrip).toFixed(1)}×` : '—'} |`);
  row('POST /tasks (Fastify, server side)', http);
  row('result frame in + job frame out (ws, server side)', frames);
  row('Ed25519 verify + sign', crypto);
  row('**the three together**', floor);
  if (roundTrip) row('one PostgreSQL round trip (client side; the reference)', roundTrip);
}

if (process.argv[2] === '--serve') await serve();
else await main();
