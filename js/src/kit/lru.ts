/**
 * The one least-recently-used cache of the views (the kernel's is `LRU` in
 * `circuitwidgets/widgets/_channel.py`): a Map that keeps the `capacity` most recently used
 * entries; `get` counts as use.
 *
 *     const cache = new LRU<string, HeadPattern>(8);
 *     cache.set(key, pattern);
 *     cache.get(key);          // undefined once evicted
 */
export class LRU<K, V> {
  private readonly items = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity ${capacity} must be a whole number of at least 1`);
    }
  }

  get size(): number {
    return this.items.size;
  }

  has(key: K): boolean {
    return this.items.has(key);
  }

  /** The value (now the most recently used), or undefined. */
  get(key: K): V | undefined {
    if (!this.items.has(key)) return undefined;
    const value = this.items.get(key) as V;
    this.items.delete(key);
    this.items.set(key, value);
    return value;
  }

  /** The value without counting it as use. */
  peek(key: K): V | undefined {
    return this.items.get(key);
  }

  set(key: K, value: V): this {
    this.items.delete(key);
    this.items.set(key, value);
    while (this.items.size > this.capacity) this.items.delete(this.items.keys().next().value as K);
    return this;
  }

  delete(key: K): boolean {
    return this.items.delete(key);
  }

  clear(): void {
    this.items.clear();
  }

  keys(): IterableIterator<K> {
    return this.items.keys();
  }
}
