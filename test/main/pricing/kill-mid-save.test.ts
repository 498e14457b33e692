import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPriceBoard } from '../../../src/core/pricing/price-board-codec.js';
import { loadNativeBlake3 } from '../../../src/node/hash/node-hasher.js';
import { seededRandom } from '../../support/data.js';
import { tempDir } from '../../support/temp-dir.js';
import { generationOf, isGeneration } from './fixtures/generations.js';

const hasher = loadNativeBlake3();
const WINDOW = 20_000; // ≈ 320 KB per save, so a save takes long enough for kills to land inside it
/** Kills that must land inside a save, and the most trials run to get them (a loaded machine lands fewer per trial). */
const MID_SAVE_KILLS = 12;
const MAX_TRIALS = 72;
/** Kill delays come from this seed; set TESSERA_KILL_SEED to replay a run exactly. */
const SEED = process.env.TESSERA_KILL_SEED
  ? Number(process.env.TESSERA_KILL_SEED)
  : Math.floor(Math.random() * 2 ** 32);
if (!Number.isSafeInteger(SEED) || SEED < 0)
  throw new Error(`TESSERA_KILL_SEED must be a non-negative integer, got ${process.env.TESSERA_KILL_SEED}`);
console.log(`kill-mid-save: seed ${SEED} (replay with TESSERA_KILL_SEED=${SEED})`);

const child = fileURLToPath(new URL('./fixtures/save-loop.ts', import.meta.url));
// Run the fixture from source through tsx's loader, resolved the way the worker pool resolves tsx.
const tsxLoader = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs'),
).href;

interface Run {
  loaded: string;
  lastSaved: number | undefined;
  /** True when the kill landed after "begin N" and before "saved N". */
  midSave: boolean;
}

/** Starts the save loop and SIGKILLs it `delayMs` after its first save of this run. */
function runAndKill(dataDir: string, delayMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', tsxLoader, child, dataDir, String(WINDOW)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let armed = false;
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!armed && /^saved \d+$/m.test(out)) {
        armed = true;
        setTimeout(() => proc.kill('SIGKILL'), delayMs);
      }
    });
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`save loop exited with ${code ?? signal}: ${err}`));
      const lines = out.trim().split('\n');
      const saved = lines.filter((l) => l.startsWith('saved ')).map((l) => Number(l.slice(6)));
      resolve({
        loaded: lines[0]?.replace(/^loaded /, '') ?? '?',
        lastSaved: saved.at(-1),
        midSave: lines.at(-1)?.startsWith('begin ') ?? false,
      });
    });
  });
}

/**
 * Runs kill-and-check rounds on one data dir until `wanted` kills landed inside a save (or
 * `maxTrials` ran); every round must leave a valid board. Returns the kills inside a save and the rounds run.
 */
async function trials(
  dataDir: string,
  wanted: number,
  maxTrials: number,
  random: () => number,
): Promise<{ midSave: number; runs: number }> {
  const path = join(dataDir, 'state', 'price_board.v1.bin');
  let previous = 0;
  let midSave = 0;
  let trial = 0;
  for (; trial < maxTrials && midSave < wanted; trial++) {
    const delay = Math.floor(random() * 60);
    const run = await runAndKill(dataDir, delay);
    // Each run starts from exactly what the previous one left on disk.
    expect(run.loaded).toBe(trial === 0 ? 'MISSING' : String(previous));
    if (run.midSave) midSave++;
    const result = loadPriceBoard(readFileSync(path), hasher, WINDOW);
    if (!result.ok)
      throw new Error(
        `seed ${SEED}, trial ${trial} (kill ${delay} ms after the first save) left a broken file: ${result.message}`,
      );
    const gen = generationOf(result.board);
    // The old board (last completed save) or the new one (the save in flight got past its rename).
    expect([run.lastSaved, (run.lastSaved ?? previous) + 1]).toContain(gen);
    expect(isGeneration(result.board, gen, WINDOW)).toBe(true);
    previous = gen;
  }
  return { midSave, runs: trial };
}

describe('a save killed at a random moment', () => {
  // Each trial starts a fresh child process through tsx (a second or more on a loaded machine).
  it(
    `leaves the old or the new board, never a broken one (SIGKILLs until ${MID_SAVE_KILLS} land inside a save)`,
    { timeout: 300_000 },
    async () => {
      const { midSave, runs } = await trials(tempDir(), MID_SAVE_KILLS, MAX_TRIALS, seededRandom(SEED));
      console.log(`kill-mid-save: ${midSave} of ${runs} kills landed inside a save (seed ${SEED})`);
      // The claim is about kills inside a save: enough of them must land there.
      expect(midSave, `kills inside a save in ${runs} trials (seed ${SEED})`).toBeGreaterThanOrEqual(MID_SAVE_KILLS);
    },
  );
});
