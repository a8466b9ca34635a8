/**
 * A small bounded memo for async lookups of immutable things (images by digest).
 * Concurrent callers of one key share one promise; failures are not kept, so a
 * transient error is retried by the next caller. Oldest entries are evicted first.
 *
 * Hand-written: 20 lines, and the LRU libraries on npm (lru-cache) do not
 * share in-flight promises or drop rejected ones without extra code around them.
 */
export class Memo<V> {
  private readonly entries = new Map<string, Promise<V>>();

  constructor(private readonly maxEntries = 10_000) {}

  get(key: string, compute: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key); // re-insert: most recently used last
      this.entries.set(key, hit);
      return hit;
    }
    const promise = compute();
    this.entries.set(key, promise);
    promise.catch(() => {
      if (this.entries.get(key) === promise) this.entries.delete(key);
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return promise;
  }

  get size(): number {
    return this.entries.size;
  }
}
