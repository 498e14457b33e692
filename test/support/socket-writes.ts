import net from 'node:net';

/**
 * Counts the socket writes made while `fn` runs: every write of every socket of this process, or
 * of the sockets `only` accepts.
 */
export async function writesDuring<T>(
  fn: () => Promise<T>,
  only: (socket: net.Socket) => boolean = () => true,
): Promise<{ result: T; writes: number }> {
  const proto = net.Socket.prototype as unknown as {
    _writev: (...args: unknown[]) => unknown;
    _write: (...args: unknown[]) => unknown;
  };
  let writes = 0;
  const realWritev = proto._writev;
  const realWrite = proto._write;
  proto._writev = function (this: net.Socket, ...args: unknown[]) {
    if (only(this)) writes++;
    return realWritev.apply(this, args);
  };
  proto._write = function (this: net.Socket, ...args: unknown[]) {
    if (only(this)) writes++;
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
