#!/usr/bin/env node
// `npm run test:stress`: the integration and e2e vitest projects with CPU-burning processes
// alongside, so a test that leans on wall-clock timing fails here rather than in CI on a busy
// machine. Not part of CI. Extra arguments go to vitest (e.g. a file filter).
//
//   TESSERA_STRESS_BURNERS  how many busy-loop processes (default 4)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const burners = Number(process.env.TESSERA_STRESS_BURNERS ?? 4);
const vitestBin = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));

const children = [];
for (let i = 0; i < burners; i++) {
  children.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}
const stopBurners = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
};
process.on('exit', stopBurners);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopBurners();
    process.exit(130);
  });
}

console.log(`test:stress: ${burners} CPU burners running (pids ${children.map((c) => c.pid).join(', ')})`);
const vitest = spawn(
  process.execPath,
  [vitestBin, 'run', '--project', 'integration', '--project', 'e2e', ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
vitest.on('exit', (code, signal) => {
  stopBurners();
  process.exitCode = code ?? (signal ? 1 : 0);
});
