import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * Starts the worker script `<name>.js` that sits beside the calling module in a build, or
 * `<name>.ts` through tsx's loader when the caller itself runs from TypeScript source
 * (tests, `npm run tessera`, benchmarks). `callerUrl` is the caller's `import.meta.url`;
 * `resourceLimits` caps the worker's own V8 heap.
 */
export function startSiblingWorker(
  callerUrl: string,
  name: string,
  workerData?: unknown,
  resourceLimits?: ResourceLimits,
): Worker {
  const limits = resourceLimits ? { resourceLimits } : {};
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), { workerData, ...limits });
  const source = new URL(`./${name}.ts`, callerUrl).href;
  const tsxRoot = dirname(createRequire(callerUrl).resolve('tsx/package.json'));
  const tsx = pathToFileURL(join(tsxRoot, 'dist/esm/api/index.mjs')).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source)}); })`;
  return new Worker(boot, { eval: true, workerData, ...limits });
}
