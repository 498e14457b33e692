/**
 * Writes a deterministic .slice file:
 *   npm run generate-slice -- --size 1MiB --seed 42 out.slice
 * The same --size and --seed always produce the same bytes (see src/core/workloads/slice-generator.ts).
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/core/units.js';
import { generateSlice } from '../../src/core/workloads/slice-generator.js';
import { nodeSha256 } from '../../src/node/hash/node-hasher.js';

function fail(message: string): never {
  process.stderr.write(`generate-slice: ${message}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: { size: { type: 'string' }, seed: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
} catch (err) {
  fail((err as Error).message.split(/\.\s|\n/)[0] as string);
}
const { values, positionals } = parsed;
if (positionals.length !== 1) fail('give exactly one output path, e.g. --size 1MiB --seed 42 out.slice');
let size: number;
try {
  size = parseSize(values.size ?? '1MiB', '--size');
} catch (err) {
  fail((err as Error).message);
}
const out = positionals[0] as string;
const tmp = `${out}.tmp-${process.pid}`;
let fd: number;
try {
  fd = openSync(tmp, 'w');
} catch (err) {
  fail(`cannot write ${out}: ${(err as Error).message}`);
}
for (const chunk of generateSlice(values.seed ?? '0', size, nodeSha256)) writeSync(fd, chunk);
closeSync(fd);
renameSync(tmp, out);
process.stdout.write(`wrote ${size} bytes to ${out}\n`);
