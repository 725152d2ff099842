import { assert } from "./assert.js";

/**
 * The last indexes of the append messages in flight to one follower, oldest first, in a ring
 * buffer of fixed capacity (the pipelining window). Allocated lazily and reused: no garbage per
 * message.
 */
export class Inflights {
  private buffer: Float64Array | null = null;
  private start = 0;
  count = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  /** Records an append whose last entry is `index`; indexes must increase. */
  add(index: number): void {
    assert(!this.full(), "inflights: add to a full window");
    if (this.buffer === null) this.buffer = new Float64Array(this.capacity);
    let position = this.start + this.count;
    if (position >= this.capacity) position -= this.capacity;
    this.buffer[position] = index;
    this.count++;
  }

  /** Frees every append whose last index is <= `index` (the follower acknowledged them). */
  freeLE(index: number): void {
    const buffer = this.buffer;
    if (buffer === null || this.count === 0) return;
    let freed = 0;
    let position = this.start;
    while (freed < this.count && (buffer[position] as number) <= index) {
      freed++;
      position++;
      if (position === this.capacity) position = 0;
    }
    this.count -= freed;
    this.start = this.count === 0 ? 0 : position;
  }

  /** Frees the oldest append (the window was full and a heartbeat proved the follower alive). */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.count--;
    this.start = this.count === 0 ? 0 : (this.start + 1) % this.capacity;
  }

  reset(): void {
    this.count = 0;
    this.start = 0;
  }
}
