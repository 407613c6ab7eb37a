/**
 * A fixed-capacity ring: pushing past `capacity` overwrites the oldest entry,
 * so fleet health's history costs the same memory after a day as after an hour.
 */
export function createRing<T>(capacity: number) {
  const items: (T | undefined)[] = new Array(capacity);
  let next = 0;
  let size = 0;
  return {
    push(item: T): void {
      items[next] = item;
      next = (next + 1) % capacity;
      size = Math.min(size + 1, capacity);
    },
    /** Oldest first. */
    toArray(): T[] {
      const out: T[] = [];
      for (let i = 0; i < size; i++) out.push(items[(next - size + i + capacity) % capacity] as T);
      return out;
    },
    get size() {
      return size;
    },
  };
}

export type Ring<T> = ReturnType<typeof createRing<T>>;
