import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { pgliteHarness } from './store-harness.js';
import { storeSuite } from './store.suite.js';

// One temp root for the file (the suite opens stores in beforeAll, outside any single test).
const root = mkdtempSync(join(tmpdir(), 'tessera-market-store-'));
let n = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

storeSuite(pgliteHarness(() => join(root, `store-${n++}`)));
