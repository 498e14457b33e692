import { describe, expect, it } from 'vitest';
import type { JobRow } from '../../src/shared/contract.js';
import { csvField, JOB_CSV_HEADER, jobsToCsv, toCsv } from '../../src/renderer/app/lib/csv.js';

/** A small RFC 4180 reader, to check that what the export writes reads back field for field. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}

const job = (over: Partial<JobRow> = {}): JobRow => ({
  market_id: 'm1',
  task_id: 't1',
  job_id: 'j1',
  workload: 'blake3',
  bytes: 1024,
  proof: 'ab'.repeat(32),
  backend: 'cpu',
  duration_ms: 12,
  status: 'accepted',
  code: null,
  credits: '12345',
  offer: '12345',
  paid: true,
  settled: false,
  started_at: Date.UTC(2026, 11, 2, 10, 0, 0),
  finished_at: Date.UTC(2026, 11, 2, 10, 0, 1),
  ...over,
});

describe('CSV escaping', () => {
  it('quotes fields with commas, quotes and line breaks, doubling quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    expect(csvField(null)).toBe('');
    expect(csvField(42)).toBe('42');
  });

  it('defuses spreadsheet formulas in text fields', () => {
    expect(csvField('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('@cmd')).toBe("'@cmd");
    expect(csvField(-5)).toBe('-5');
  });

  it('reads back field for field, whatever the text', () => {
    const nasty = ['a,b', '"', '""', 'x\r\ny', '', 'ünïcode ✓', ' lead'];
    const back = parseCsv(toCsv([nasty, ['1', '2']]));
    expect(back).toEqual([nasty, ['1', '2']]);
  });

  it('exports jobs with a header, ISO times and credits in CPC', () => {
    const text = jobsToCsv([
      job(),
      job({
        job_id: 'j2',
        status: 'rejected',
        code: 'PROOF_MISMATCH',
        credits: '0',
        paid: false,
        workload: 'matrix, "big"',
        finished_at: null,
        proof: null,
        duration_ms: null,
      }),
    ]);
    expect(text.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual([...JOB_CSV_HEADER]);
    expect(rows).toHaveLength(3);
    const col = (name: string) => JOB_CSV_HEADER.indexOf(name as (typeof JOB_CSV_HEADER)[number]);
    expect(rows[1]?.[col('paid_cpc')]).toBe('0.012345');
    expect(rows[1]?.[col('offer_cpc')]).toBe('0.012345');
    expect(rows[2]?.[col('paid_cpc')]).toBe('');
    expect(rows[1]?.[col('started_at')]).toBe('2026-12-02T10:00:00.000Z');
    expect(rows[2]?.[col('workload')]).toBe('matrix, "big"');
    expect(rows[2]?.[col('finished_at')]).toBe('');
    expect(rows[2]?.[col('code')]).toBe('PROOF_MISMATCH');
  });
});

describe('CSV stage words (the same vocabulary as the app)', () => {
  it('says verified, paid and settled as the Jobs screen does — never the protocol word "accepted"', () => {
    const text = jobsToCsv([
      job({ job_id: 'v', paid: false, credits: '0' }),
      job({ job_id: 'p', paid: true, settled: false }),
      job({ job_id: 's', paid: true, settled: true }),
      job({ job_id: 'w', status: 'submitted', paid: false, credits: '0' }),
      job({ job_id: 'l', status: 'lost', paid: false, credits: '0' }),
    ]);
    const rows = parseCsv(text);
    const stage = JOB_CSV_HEADER.indexOf('stage');
    expect(rows.slice(1).map((r) => r[stage])).toEqual(['verified', 'paid', 'settled', 'pending', 'lost']);
    expect(text).not.toMatch(/accepted/);
  });
});
