import { readFileSync } from 'node:fs';

/**
 * The bytes of each command-line argument where they are not valid UTF-8, else undefined.
 *
 * process.argv decodes every argument as UTF-8 and replaces invalid bytes with U+FFFD, so a
 * file named with Latin-1 bytes cannot be opened by its string. On Linux the kernel keeps the
 * arguments as given in /proc/self/cmdline; the user's arguments are its last entries. They are
 * used only when each one decodes to exactly the string in process.argv; elsewhere (no /proc,
 * or anything that does not line up) every entry is undefined and the strings are used as they are.
 */
export function rawArgBytes(
  args: readonly string[],
  readCmdline: () => Buffer = () => readFileSync('/proc/self/cmdline'),
): (Buffer | undefined)[] {
  const none = args.map(() => undefined);
  if (args.every((a) => !a.includes('\uFFFD'))) return none;
  let cmdline: Buffer;
  try {
    cmdline = readCmdline();
  } catch {
    return none;
  }
  const entries: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < cmdline.length; i++) {
    if (cmdline[i] === 0) {
      entries.push(cmdline.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < cmdline.length) entries.push(cmdline.subarray(start));
  if (entries.length < args.length) return none;
  const tail = entries.slice(entries.length - args.length);
  if (tail.some((b, i) => b.toString('utf8') !== args[i])) return none;
  return tail.map((b, i) => (Buffer.from(args[i] as string, 'utf8').equals(b) ? undefined : Buffer.from(b)));
}
