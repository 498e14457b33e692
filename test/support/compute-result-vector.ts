import type { ComputeResult } from '../../src/core/market/compute-result.js';

/**
 * The docs/compute-result-encoding.md test vector, signed with the RFC 8032 §7.1 TEST 1 key. Its
 * digests come from the b3sum CLI and its signature from Python's `cryptography` Ed25519 over the
 * documented signing bytes: nothing here was made by this code base.
 */
export const COMPUTE_RESULT_VECTOR: ComputeResult = {
  market_id: 'tessera-test-market',
  task_id: '550e8400-e29b-41d4-a716-446655440000',
  job_id: 'job-7',
  worker_address: 'cpc1dscsgyng73ckp8re7hedhnpcujj2kt6d7qefed',
  result_hash: 'd74981efa70a0c880b8d8c1985d075dbcbf679b99a5f9914e5aaf96b831a9e24',
  proof: 'd5404852477bad4b70843460013621a0af46def9cac2a3848d347657041437c4',
  nonce: 12345n,
  created_at: 1_700_000_000_000,
  signature:
    '9c4618cbd373dd6217bf686b66f8bb6a02b862bbb921fca30c8f5e87cbd971ac363b85ac1151388446c1cde487d82059178c657f142c19fc4ac1b2096fdfa405',
};
