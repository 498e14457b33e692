import { errorMessage } from '../core/errors.js';
import { errorFields, silentLogger, type Logger } from './log.js';

/** Something a store can release: an object with `dispose()` or `close()`, or a release function. */
export type Releasable = { dispose(): unknown } | { close(): unknown } | (() => unknown);

/** Several releases failed; `errors` holds each one, in release order. */
export class DisposeError extends AggregateError {
  constructor(
    errors: unknown[],
    readonly owner: string,
  ) {
    super(
      errors,
      `${owner}: ${errors.length} release${errors.length === 1 ? '' : 's'} failed: ${errors.map(errorMessage).join('; ')}`,
    );
    this.name = 'DisposeError';
  }
}

function release(r: Releasable): unknown {
  if (typeof r === 'function') return r();
  if ('dispose' in r && typeof r.dispose === 'function') return r.dispose();
  return (r as { close(): unknown }).close();
}

/**
 * Owns the resources a service or host starts (timers, listeners, sockets, workers, child
 * services), after VS Code's DisposableStore: `add(x)` registers `x` where it is created and
 * returns it; `dispose()` releases everything in reverse order, attempts every release even
 * when one fails, logs each failure with its stack, and rethrows them together (one
 * DisposeError). Disposing twice returns the first call's promise; a resource added after
 * dispose is released at once.
 */
export class DisposableStore {
  private readonly items: { resource: Releasable; name: string }[] = [];
  private disposing: Promise<void> | undefined;
  private readonly logger: Logger;

  constructor(
    readonly owner = 'resources',
    logger: Logger = silentLogger,
  ) {
    this.logger = logger;
  }

  /** True once `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposing !== undefined;
  }

  /** Registers `resource` (released by `dispose`, after everything added later) and returns it. */
  add<T extends Releasable>(resource: T, name = 'resource'): T {
    if (this.disposing) {
      this.logger.warn('resource added after its owner was disposed; released at once', {
        owner: this.owner,
        resource: name,
      });
      void this.releaseAll([{ resource, name }]).catch(() => undefined);
      return resource;
    }
    this.items.push({ resource, name });
    return resource;
  }

  /** Releases every resource in reverse order of `add`; safe to call twice (the same promise). */
  dispose(): Promise<void> {
    this.disposing ??= this.releaseAll(this.items.splice(0).reverse());
    return this.disposing;
  }

  private async releaseAll(items: { resource: Releasable; name: string }[]): Promise<void> {
    const errors: unknown[] = [];
    for (const { resource, name } of items) {
      try {
        await release(resource);
      } catch (err) {
        errors.push(err);
        this.logger.error('release failed', { owner: this.owner, resource: name, ...errorFields(err) });
      }
    }
    if (errors.length > 0) throw new DisposeError(errors, this.owner);
  }
}
