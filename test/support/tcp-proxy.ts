import { createConnection, createServer, type Server, type Socket } from 'node:net';

interface Pipe {
  client: Socket;
  upstream: Socket;
}

/**
 * A TCP proxy in front of a server on 127.0.0.1 that can black-hole its connections: `blackhole()`
 * stops forwarding in both directions without closing anything — both sockets are paused, so
 * bytes sit unread and no FIN or RST crosses — exactly a network path that died silently. New
 * connections made while black-holed are accepted and held the same way (a connect that never
 * gets an answer). `heal()` lets everything flow again. A close on one side is passed on to the
 * other only while the path is healthy.
 */
export class TcpProxy {
  private readonly pipes = new Set<Pipe>();
  private holes = false;
  private readonly server: Server;
  private portValue = 0;

  private constructor(targetPort: number) {
    this.server = createServer((client) => this.accept(client, targetPort));
  }

  /** Starts a proxy on a free port of 127.0.0.1 forwarding to `targetPort`. */
  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const address = proxy.server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy.portValue = address.port;
    return proxy;
  }

  get port(): number {
    return this.portValue;
  }

  /** `http://127.0.0.1:<port>`: give it to a client in place of the server's URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections open through the proxy now. */
  get connections(): number {
    return this.pipes.size;
  }

  get blackholed(): boolean {
    return this.holes;
  }

  /** Stops forwarding on every connection, open and new, in both directions; closes nothing. */
  blackhole(): void {
    this.holes = true;
    for (const p of this.pipes) {
      p.client.pause();
      p.upstream.pause();
    }
  }

  /** Forwards again (what was held flows on; a close held back is passed on now). */
  heal(): void {
    this.holes = false;
    for (const p of [...this.pipes]) {
      if (p.client.destroyed || p.upstream.destroyed) this.drop(p);
      else {
        p.client.resume();
        p.upstream.resume();
      }
    }
  }

  /** Closes the listener and destroys every connection. */
  async close(): Promise<void> {
    for (const p of [...this.pipes]) this.drop(p);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetPort: number): void {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    const pipe: Pipe = { client, upstream };
    this.pipes.add(pipe);
    if (this.holes) {
      client.pause();
      upstream.pause();
    }
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (!to.destroyed) to.write(chunk);
      });
      from.on('end', () => {
        if (!this.holes) to.end();
      });
      from.on('close', () => {
        if (!this.holes) this.drop(pipe);
      });
      from.on('error', () => {
        if (!this.holes) this.drop(pipe);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  }

  private drop(p: Pipe): void {
    this.pipes.delete(p);
    p.client.destroy();
    p.upstream.destroy();
  }
}
