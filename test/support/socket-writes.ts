import net from 'node:net';

/** Counts the socket writes made while `fn` runs (every write of every socket of this process). */
export async function writesDuring<T>(fn: () => Promise<T>): Promise<{ result: T; writes: number }> {
  const proto = net.Socket.prototype as unknown as {
    _writev: (...args: unknown[]) => unknown;
    _write: (...args: unknown[]) => unknown;
  };
  let writes = 0;
  const realWritev = proto._writev;
  const realWrite = proto._write;
  proto._writev = function (this: unknown, ...args: unknown[]) {
    writes++;
    return realWritev.apply(this, args);
  };
  proto._write = function (this: unknown, ...args: unknown[]) {
    writes++;
    return realWrite.apply(this, args);
  };
  try {
    const result = await fn();
    return { result, writes };
  } finally {
    proto._writev = realWritev;
    proto._write = realWrite;
  }
}
