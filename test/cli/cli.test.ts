import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { courierSpec } from '../../src/cli/commands/courier.js';
import { doctorSpec } from '../../src/cli/commands/doctor.js';
import { hashSpec } from '../../src/cli/commands/hash.js';
import { marketCustomerSpec, marketFundSpec, marketServeSpec } from '../../src/cli/commands/market.js';
import { provideSpec } from '../../src/cli/commands/provide.js';
import { practiceSpec } from '../../src/cli/commands/practice.js';
import { earningsSpec } from '../../src/cli/commands/earnings.js';
import { headlessSpec } from '../../src/cli/commands/headless.js';
import { metricsSpec } from '../../src/cli/commands/metrics.js';
import { priceBoardSpec } from '../../src/cli/commands/price-board.js';
import { runWorkloadSpec } from '../../src/cli/commands/run-workload.js';
import { settlementSpec } from '../../src/cli/commands/settlement.js';
import { marketKeySpec } from '../../src/cli/commands/market-key.js';
import { rawArgBytes } from '../../src/cli/raw-argv.js';
import { openLedger } from '../../src/main/ledger.js';
import { pseudoRandomBytes } from '../support/data.js';
import { tempDir } from '../support/temp-dir.js';
import { root, runMain as run, tessera, tsxLoader } from './run.js';

const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const bin = join(root, 'src/cli/bin.ts');

/** Rows of a help section ("commands:", "subcommands:", "options:"): the first word of each. */
function section(help: string, title: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf(title);
  if (start < 0) return [];
  const rows: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('  ')) break;
    const words = line.trim().split(/\s+/);
    // "-w, --workload NAME": the long flag names the option.
    const word = (words[0]?.endsWith(',') ? words[1] : words[0]) as string;
    if (!line.startsWith('    ') || word.startsWith('-')) rows.push(word);
  }
  return rows;
}

/** The definition behind each command path; a command listed in `tessera --help` without one fails the help test. */
const specs: Record<string, { parse(argv: readonly string[]): unknown }> = {
  hash: hashSpec,
  'run-workload': runWorkloadSpec,
  metrics: metricsSpec,
  doctor: doctorSpec,
  courier: courierSpec,
  settlement: settlementSpec,
  'market-key': marketKeySpec,
  'price-board': priceBoardSpec,
  market: marketServeSpec,
  'market customer': marketCustomerSpec,
  'market fund': marketFundSpec,
  provide: provideSpec,
  practice: practiceSpec,
  earnings: earningsSpec,
  headless: headlessSpec,
};
/** Subcommands a command documents in its notes rather than in a "subcommands:" section. */
const extraPaths: Record<string, string[][]> = {
  market: [
    ['market', 'customer', 'add'],
    ['market', 'customer', 'list'],
    ['market', 'fund'],
  ],
};

describe('help and version', () => {
  it('every command and subcommand answers --help and -h with its own help, generated from what its parser accepts', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    const commands = section(top.stdout, 'commands:');
    expect(commands).toEqual(
      expect.arrayContaining(['run-workload', 'hash', 'courier', 'settlement', 'price-board', 'metrics', 'doctor']),
    );
    const paths: string[][] = [];
    for (const c of commands) {
      const h = await run([c, '--help']);
      const subs = section(h.stdout, 'subcommands:');
      if (subs.length === 0) paths.push([c]);
      for (const sub of subs) paths.push([c, sub]);
      paths.push(...(extraPaths[c] ?? []));
      expect(h.stdout.startsWith(`usage: tessera ${c} `), h.stdout).toBe(true);
    }
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining([
        'courier send',
        'courier flush',
        'courier list',
        'settlement status',
        'settlement mode',
        'settlement apply',
        'settlement fund',
        'market-key list',
        'market-key forget',
        'market-key trust',
        'price-board show',
        'price-board clear',
        'hash',
        'metrics',
      ]),
    );
    for (const path of paths) {
      const long = await run([...path, '--help']);
      const short = await run([...path, '-h']);
      expect([long.code, long.stderr], path.join(' ')).toEqual([0, '']);
      expect(short.stdout).toBe(long.stdout);
      expect(long.stdout.startsWith(`usage: tessera ${path.join(' ')} `)).toBe(true);
      // Every flag the help lists is one the parser accepts, and the parser accepts no other.
      const flags = section(long.stdout, 'options:');
      // The longest defined prefix of the path: a group parses its subcommand's name itself.
      const at = [path.length, path.length - 1, 1].find((n) => specs[path.slice(0, n).join(' ')] !== undefined) ?? 0;
      const spec = specs[path.slice(0, at).join(' ')];
      expect(spec, `no command spec for ${path.join(' ')}`).toBeDefined();
      const parse = (args: string[]) => (spec as NonNullable<typeof spec>).parse([...path.slice(at), ...args]);
      for (const flag of flags.filter((f) => f.startsWith('--'))) {
        const line = long.stdout
          .split('\n')
          .find((l) => l.includes(` ${flag} `) || l.trimEnd().endsWith(flag)) as string;
        const takesValue = new RegExp(`${flag} [A-Z]`).test(line);
        expect(() => parse(takesValue ? [`${flag}=v`] : [flag]), `${path.join(' ')} ${flag}`).not.toThrow(
          /unknown option/,
        );
      }
      expect(flags).toContain('--help');
      expect(() => parse(['--no-such-flag'])).toThrow(`unknown option '--no-such-flag' for tessera ${path.join(' ')}`);
    }
  });

  it('--help exits 0 on stdout from a real process; `tessera help courier` is the same text', () => {
    const r = tessera(['courier', 'list', '--help']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^usage: tessera courier list \[options\]\n/);
    expect(r.stdout).toMatch(/--pending\s+only receipts not yet acknowledged/);
    expect(tessera(['help', 'courier']).stdout).toBe(tessera(['courier', '--help']).stdout);
  });

  it('hash and run-workload say in their help that an input may be a pipe', async () => {
    expect((await run(['hash', '--help'])).stdout).toMatch(/may be a regular file or a pipe, as with b3sum/);
    expect((await run(['run-workload', '--help'])).stdout).toMatch(/may be a regular file or a pipe, as with b3sum/);
  });

  it('--version and -V print the package.json version, from source and from the bundle built by scripts/build-cli.mjs', () => {
    expect(tessera(['--version'])).toEqual({ code: 0, stdout: `tessera ${version}\n`, stderr: '' });
    expect(tessera(['-V']).stdout).toBe(`tessera ${version}\n`);
    // Built outside the repository: no package.json beside it, so the version must be baked in.
    const out = join(tempDir(), 'cli');
    const built = spawnSync(process.execPath, [join(root, 'scripts/build-cli.mjs'), '--outdir', out], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(built.status, built.stderr).toBe(0);
    const r = spawnSync(process.execPath, [join(out, 'tessera.js'), '--version'], { encoding: 'utf8' });
    expect([r.status, r.stdout, r.stderr]).toEqual([0, `tessera ${version}\n`, '']);
  });
});

describe('bad command lines: one line naming the problem, exit 2, nothing created', () => {
  it('a group with no subcommand or an unknown one lists the subcommands', () => {
    for (const [args, message] of [
      [
        ['courier'],
        'tessera: tessera courier needs a subcommand: send, flush, retry or list (see tessera courier --help)',
      ],
      [
        ['settlement'],
        'tessera: tessera settlement needs a subcommand: status, mode, apply or fund (see tessera settlement --help)',
      ],
      [
        ['price-board', 'wipe'],
        'tessera: unknown price-board subcommand "wipe" (expected show or clear; see tessera price-board --help)',
      ],
    ] as const) {
      const r = tessera([...args]);
      expect([r.code, r.stdout, r.stderr]).toEqual([2, '', `${message}\n`]);
    }
  });

  it('bad flag values name the flag: a negative number, a missing value, a value for a switch, an empty --data-dir', async () => {
    const cwd = tempDir();
    for (const [args, message] of [
      [['hash', '--threads', '-1', 'x'], '--threads must be an integer from 1 to 256, got "-1"'],
      [['hash', '--threads', '0', 'x'], '--threads must be an integer from 1 to 256, got "0"'],
      [['run-workload', 'x.slice', '--threads', '-3'], '--threads must be an integer from 1 to 256, got "-3"'],
      [['hash', '--threads'], '--threads needs a value'],
      [
        ['courier', 'flush', '--market', '--json'],
        '--market needs a value; to give one that starts with "-", write --market=VALUE',
      ],
      [['courier', 'list', '--json=yes'], '--json takes no value'],
      [['settlement', 'status', '--data-dir', ''], '--data-dir must not be empty'],
      [['courier', 'list', '--data-dir='], '--data-dir must not be empty'],
      [['price-board', 'show', '--data-dir', ''], '--data-dir must not be empty'],
      [['metrics', '--data-dir', ''], '--data-dir must not be empty'],
      [['settlement', 'mode', 'real', '--delay', '5'], '--delay applies only to settlement mode armed'],
      [
        ['metrics', '--url', 'not a url'],
        '--url "not a url" is not a URL (expected e.g. http://127.0.0.1:9464/metrics)',
      ],
    ] as const) {
      const r = tessera([...args], { cwd });
      expect([r.code, r.stdout, r.stderr], args.join(' ')).toEqual([2, '', `tessera: ${message}\n`]);
    }
    expect(existsSync(join(cwd, 'node-data'))).toBe(false);
  });

  it('refuses unexpected arguments everywhere, naming them, before opening anything', async () => {
    const cwd = tempDir();
    const dd = join(cwd, 'node');
    for (const [args, message] of [
      [
        ['settlement', 'status', 'extra'],
        'tessera settlement status: unexpected argument "extra" (it takes no arguments)',
      ],
      [
        ['settlement', 'mode', 'real', 'now'],
        'tessera settlement mode: unexpected argument "now" (it takes dry-run|real|armed)',
      ],
      [
        ['settlement', 'fund', 'alice', '5', 'bob'],
        'tessera settlement fund: unexpected argument "bob" (it takes <account> <credits>)',
      ],
      [
        ['settlement', 'apply', 'a.jsonl', 'b.jsonl'],
        'tessera settlement apply: unexpected argument "b.jsonl" (it takes <receipts.jsonl>)',
      ],
      [['courier', 'list', 'all'], 'tessera courier list: unexpected argument "all" (it takes no arguments)'],
      [
        ['courier', 'flush', 'now', 'please'],
        'tessera courier flush: unexpected arguments "now" "please" (it takes no arguments)',
      ],
      [
        ['courier', 'send', 'bundle.bin'],
        'tessera courier send needs <bundle> <sender> (got 1 argument); see tessera courier send --help',
      ],
      [
        ['price-board', 'show', 'consumer'],
        'tessera price-board show: unexpected argument "consumer" (it takes no arguments)',
      ],
      [['metrics', 'now'], 'tessera metrics: unexpected argument "now" (it takes no arguments)'],
      [
        ['run-workload', 'a.slice', 'b.slice'],
        'tessera run-workload: unexpected argument "b.slice" (it takes <file.slice>)',
      ],
      [['--version', 'now'], 'tessera --version takes no arguments (got "now")'],
    ] as const) {
      const r = await run(
        args[0] === 'run-workload' || args[0] === '--version' ? [...args] : [...args, '--data-dir', dd],
      );
      expect([r.code, r.stdout, r.stderr], args.join(' ')).toEqual([2, '', `tessera: ${message}\n`]);
    }
    expect(existsSync(dd)).toBe(false);
  });
});

/** Spawns the CLI with stdout into a reader that goes away after the first chunk, like `| head -1`. */
function closedEarly(
  args: string[],
  cwd = root,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; first: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', tsxLoader, bin, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let first = '';
    let stderr = '';
    p.stdout.once('data', (d: Buffer) => {
      first = d.toString();
      p.stdout.destroy();
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code, signal) => resolve({ code, signal, first, stderr }));
  });
}

describe('a reader that closes early (`| head -1`) is a normal end', () => {
  it('hash of many files: exit 0, no stack trace, the first line is right', async () => {
    const dir = tempDir();
    const files = Array.from({ length: 2500 }, (_, i) => {
      const p = join(dir, `file-${String(i).padStart(5, '0')}.bin`);
      writeFileSync(p, pseudoRandomBytes(i % 97, i + 1));
      return p;
    });
    const r = await closedEarly(['hash', '--threads', '2', ...files]);
    expect([r.code, r.signal, r.stderr]).toEqual([0, null, '']);
    const b3 = spawnSync('b3sum', [files[0] as string], { encoding: 'utf8' }).stdout;
    expect(r.first.startsWith(b3)).toBe(true);
  });

  it('courier list --json and settlement status with many rows: exit 0, no stack trace', async () => {
    const dir = tempDir();
    const dd = join(dir, 'node');
    const ctx = await openLedger({ dataDir: dd });
    try {
      const bundle = join(dir, 'bundle.bin');
      for (let i = 0; i < 1200; i++) {
        writeFileSync(bundle, `bundle ${i}`);
        ctx.courier.send(bundle, `sender-${i}`);
        ctx.settlement.fund(`account-${String(i).padStart(4, '0')}-${'x'.repeat(40)}`, BigInt(i + 1));
      }
    } finally {
      ctx.close();
    }
    for (const args of [
      ['courier', 'list', '--json', '--data-dir', dd],
      ['settlement', 'status', '--data-dir', dd],
    ]) {
      const r = await closedEarly(args);
      expect([r.code, r.signal, r.stderr], args.join(' ')).toEqual([0, null, '']);
      expect(r.first.length).toBeGreaterThan(0);
    }
  });
});

describe('inputs named on the command line may be pipes, as with b3sum', () => {
  it('hash and run-workload read /dev/stdin when it is a pipe', () => {
    const file = join(tempDir(), 'slice.bin');
    writeFileSync(file, pseudoRandomBytes(200_000, 5));
    const expected = spawnSync('b3sum', ['--no-names', file], { encoding: 'utf8' }).stdout.trim();
    // `cat FILE | tessera … /dev/stdin`: a real pipe (spawnSync's `input` is a socket, not a pipe).
    const piped = (...args: string[]) =>
      spawnSync(
        'bash',
        ['-c', 'cat "$1" | "$2" --import "$3" "$4" "${@:5}"', 'bash', file, process.execPath, tsxLoader, bin, ...args],
        { encoding: 'utf8' },
      );
    const hashed = piped('hash', '/dev/stdin');
    expect([hashed.status, hashed.stdout, hashed.stderr]).toEqual([0, `${expected}  /dev/stdin\n`, '']);
    const proof = piped('run-workload', '/dev/stdin', '--json', '--gpu', 'off');
    expect([proof.status, proof.stderr]).toEqual([0, '']);
    expect(JSON.parse(proof.stdout)).toMatchObject({ slice_id: 'stdin', proof_hash: expected, bytes: 200_000 });
  });
});

describe('file names that are not UTF-8', () => {
  it('hash opens them by their bytes and prints what b3sum prints', () => {
    const dir = tempDir();
    const name = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('.bin')]); // Latin-1 "café.bin"
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), name]), pseudoRandomBytes(3000, 9));
    // Node cannot pass invalid UTF-8 in spawn's arguments; the shell can.
    const sh = (cmd: string) =>
      spawnSync(
        'bash',
        ['-c', `cd "$1" && ${cmd} "$(printf 'caf\\351.bin')"`, 'bash', dir, process.execPath, bin, tsxLoader],
        { encoding: 'buffer' },
      );
    const ours = sh('"$2" --import "$4" "$3" hash');
    const theirs = sh('b3sum');
    expect(theirs.status).toBe(0);
    expect([ours.status, ours.stderr.toString()]).toEqual([0, '']);
    expect(ours.stdout.toString('hex')).toBe(theirs.stdout.toString('hex'));
  });

  it('rawArgBytes trusts /proc/self/cmdline only when it lines up with process.argv', () => {
    const bad = Buffer.from([0x61, 0xff]);
    const cmdline = Buffer.concat([Buffer.from('node\0bin.js\0hash\0'), bad, Buffer.from('\0')]);
    const args = ['hash', bad.toString('utf8')];
    expect(rawArgBytes(args, () => cmdline)).toEqual([undefined, bad]);
    expect(rawArgBytes(['hash', 'other\uFFFD'], () => cmdline)).toEqual([undefined, undefined]);
    expect(rawArgBytes(args, () => Buffer.from('hash\0'))).toEqual([undefined, undefined]);
    expect(
      rawArgBytes(args, () => {
        throw new Error('no /proc');
      }),
    ).toEqual([undefined, undefined]);
  });

  it('a name that cannot be recovered says so rather than only "no such file"', () => {
    const r = tessera(['hash', 'caf\uFFFD.bin'], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'tessera: caf\uFFFD.bin: no such file, or its name is not valid UTF-8 and its bytes could not be read from the command line\n',
    );
  });
});

// As root the test runs the CLI as "nobody", who must be able to read the checkout (a clone in a 0700 temp dir is not).
const nobodyCanRunCli =
  process.getuid?.() !== 0 ||
  spawnSync('/bin/sh', ['-c', `test -r "$0"`, bin], { uid: 65534, gid: 65534 }).status === 0;

describe('permission denied', () => {
  it.skipIf(!nobodyCanRunCli)(
    'reports an unreadable file by name, as an unprivileged user even when the tests run as root (skipped: the checkout is not readable by uid 65534)',
    () => {
      const dir = tempDir();
      chmodSync(dir, 0o755);
      const p = join(dir, 'secret.bin');
      writeFileSync(p, 'x');
      chmodSync(p, 0);
      // Root reads every file, so as root the CLI runs as "nobody" (uid 65534), whom mode 000 stops.
      const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
      const r = spawnSync(process.execPath, ['--import', tsxLoader, bin, 'hash', p], {
        cwd: dir,
        encoding: 'utf8',
        ...asUser,
      });
      expect([r.status, r.stdout, r.stderr]).toEqual([
        2,
        '',
        `tessera: ${p}: permission denied (check the file's permissions)\n`,
      ]);
    },
  );
});
