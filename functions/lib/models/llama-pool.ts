import { CancelledError } from '../errors.ts';

interface Waiter<T> {
  resolve: (item: T) => void;
  reject: (err: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * A fixed set of resources (the context's sequences) lent one at a time, with a FIFO queue of
 * waiters; a waiter whose signal aborts leaves the queue with CancelledError.
 * @example const seq = await pool.acquire(signal); try { … } finally { pool.release(seq) }
 */
export class Pool<T> {
  readonly #free: T[];
  readonly #waiting: Waiter<T>[] = [];
  readonly size: number;

  constructor(items: T[]) {
    this.#free = [...items];
    this.size = items.length;
  }

  /** How many callers are queued for an item. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** How many items are lent out now. */
  get busy(): number {
    return this.size - this.#free.length;
  }

  acquire(signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(new CancelledError());
    const item = this.#free.pop();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.#waiting.indexOf(waiter);
          if (i >= 0) this.#waiting.splice(i, 1);
          reject(new CancelledError());
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiting.push(waiter);
    });
  }

  release(item: T): void {
    const next = this.#waiting.shift();
    if (!next) {
      this.#free.push(item);
      return;
    }
    if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
    next.resolve(item);
  }

  /** Rejects every waiter (on close). */
  drain(err: Error): void {
    for (const w of this.#waiting.splice(0)) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(err);
    }
  }
}
