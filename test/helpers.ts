// Kept only for test/main/workload-runner.test.ts and test/main/gpu/gpu-hash-service.test.ts (the
// WorkloadRunner tests), which another change owns; new tests import
// from test/support/ directly. Remove once that file imports from there.
export { tempDir } from './support/temp-dir.js';
export { pseudoRandomBytes, seededRandom, vectorInput } from './support/data.js';
