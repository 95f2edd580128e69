import type { AnyItemType } from '../protocols/item.js';

/**
 * Holds back an item type while a type it blocks (or that blocks it) is running
 * on the same host (BundleWrap's block_concurrent: two apt runs never overlap).
 */
export class ConcurrencyGate {
  readonly #running = new Map<string, { type: AnyItemType; count: number }>();
  #waiters: (() => void)[] = [];

  #conflicts(type: AnyItemType): boolean {
    for (const { type: other } of this.#running.values()) {
      if (type.blockConcurrent?.includes(other.name) || other.blockConcurrent?.includes(type.name)) return true;
    }
    return false;
  }

  async run<T>(type: AnyItemType, work: () => Promise<T>): Promise<T> {
    while (this.#conflicts(type)) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    const entry = this.#running.get(type.name) ?? { type, count: 0 };
    entry.count++;
    this.#running.set(type.name, entry);
    try {
      return await work();
    } finally {
      entry.count--;
      if (entry.count === 0) this.#running.delete(type.name);
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  }
}
