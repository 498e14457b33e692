import { describe, it } from 'vitest';
import { PG_URL_ENV, pgHarness } from './store-harness.js';
import { storeSuite } from './store.suite.js';

const url = process.env[PG_URL_ENV];

if (url) storeSuite(pgHarness(url));
else {
  describe('market store (postgres)', () => {
    it.skip(`skipped: set ${PG_URL_ENV} to a PostgreSQL URL (e.g. postgres:///postgres?host=/var/run/postgresql) to run the store suite on a server`, () =>
      undefined);
  });
}
