/**
 * The in-memory index of one group's log: for every log index in [first, last], the entry's term
 * and type and where its record lies on disk (segment id, byte offset, record length). Stored as
 * parallel typed arrays (about 21 bytes an entry) in a window that slides forward as the log is
 * compacted, so thousands of groups with long logs stay cheap.
 *
 * A slot whose segment id is HOLE_SEGMENT is a hole: recovery leaves one where an entry's record
 * lived in a segment deleted after a rewrite copied it forward; the rewrite record fills it later
 * in the same replay. Outside recovery there are no holes.
 */
import { assert } from "./assert.js";

/** Segment ids start at 1; 0 marks a hole. */
export const HOLE_SEGMENT = 0;

const INITIAL_CAPACITY_ENTRIES = 8;

/** Told of every record pointer the index forgets, so segment live counts stay exact. */
export type DropListener = (segmentId: number, recordBytes: number) => void;

export class EntryIndex {
  /** The log index of the first slot. */
  private firstIndex: number;
  private count = 0;
  private head = 0;
  private terms = new Float64Array(INITIAL_CAPACITY_ENTRIES);
  private segments = new Uint32Array(INITIAL_CAPACITY_ENTRIES);
  private offsets = new Uint32Array(INITIAL_CAPACITY_ENTRIES);
  private lengths = new Uint32Array(INITIAL_CAPACITY_ENTRIES);
  private types = new Uint8Array(INITIAL_CAPACITY_ENTRIES);

  constructor(firstIndex: number) {
    this.firstIndex = firstIndex;
  }

  get first(): number {
    return this.firstIndex;
  }

  /** first - 1 when the index is empty. */
  get last(): number {
    return this.firstIndex + this.count - 1;
  }

  get size(): number {
    return this.count;
  }

  private slot(index: number): number {
    assert(
      index >= this.firstIndex && index <= this.last,
      `index ${index} outside [${this.firstIndex}, ${this.last}]`,
    );
    return this.head + (index - this.firstIndex);
  }

  term(index: number): number {
    return this.terms[this.slot(index)]!;
  }
  type(index: number): number {
    return this.types[this.slot(index)]!;
  }
  segment(index: number): number {
    return this.segments[this.slot(index)]!;
  }
  offset(index: number): number {
    return this.offsets[this.slot(index)]!;
  }
  length(index: number): number {
    return this.lengths[this.slot(index)]!;
  }
  isHole(index: number): boolean {
    return this.segments[this.slot(index)] === HOLE_SEGMENT;
  }

  /** Appends the entry at last + 1. */
  push(term: number, type: number, segmentId: number, offset: number, recordBytes: number): void {
    this.ensureRoom();
    const s = this.head + this.count;
    this.terms[s] = term;
    this.types[s] = type;
    this.segments[s] = segmentId;
    this.offsets[s] = offset;
    this.lengths[s] = recordBytes;
    this.count += 1;
  }

  /** Appends a hole at last + 1 (recovery only). */
  pushHole(): void {
    this.push(0, 0, HOLE_SEGMENT, 0, 0);
  }

  /** Points an existing slot at a new record (a rewrite copy, or a hole being filled). The caller accounts for the old pointer. */
  set(
    index: number,
    term: number,
    type: number,
    segmentId: number,
    offset: number,
    recordBytes: number,
  ): void {
    const s = this.slot(index);
    this.terms[s] = term;
    this.types[s] = type;
    this.segments[s] = segmentId;
    this.offsets[s] = offset;
    this.lengths[s] = recordBytes;
  }

  /** Forgets [index, last]. */
  truncateFrom(index: number, onDrop: DropListener): void {
    if (index > this.last) return;
    assert(index >= this.firstIndex, `truncate at ${index} below first ${this.firstIndex}`);
    const keep = index - this.firstIndex;
    for (let s = this.head + keep; s < this.head + this.count; s++) this.dropSlot(s, onDrop);
    this.count = keep;
    if (this.count === 0) this.head = 0;
  }

  /** Forgets [first, newFirst - 1]; when newFirst passes the end the index becomes empty at newFirst. */
  dropBefore(newFirst: number, onDrop: DropListener): void {
    if (newFirst <= this.firstIndex) return;
    const drop = Math.min(newFirst - this.firstIndex, this.count);
    for (let s = this.head; s < this.head + drop; s++) this.dropSlot(s, onDrop);
    this.head += drop;
    this.count -= drop;
    this.firstIndex = newFirst;
    if (this.count === 0) this.head = 0;
  }

  /** Forgets everything and restarts empty at `firstIndex`. */
  reset(firstIndex: number, onDrop: DropListener): void {
    for (let s = this.head; s < this.head + this.count; s++) this.dropSlot(s, onDrop);
    this.count = 0;
    this.head = 0;
    this.firstIndex = firstIndex;
    if (this.terms.length > INITIAL_CAPACITY_ENTRIES * 64) this.allocate(INITIAL_CAPACITY_ENTRIES);
  }

  /** The first hole in [first, last], or -1. */
  firstHole(): number {
    for (let s = this.head; s < this.head + this.count; s++) {
      if (this.segments[s] === HOLE_SEGMENT) return this.firstIndex + (s - this.head);
    }
    return -1;
  }

  /** Calls `visit` for every entry whose record is in `segmentId`, in log order. */
  forEachInSegment(segmentId: number, visit: (index: number) => void): void {
    for (let s = this.head; s < this.head + this.count; s++) {
      if (this.segments[s] === segmentId) visit(this.firstIndex + (s - this.head));
    }
  }

  private dropSlot(s: number, onDrop: DropListener): void {
    const segmentId = this.segments[s]!;
    if (segmentId !== HOLE_SEGMENT) onDrop(segmentId, this.lengths[s]!);
  }

  private ensureRoom(): void {
    if (this.head + this.count < this.terms.length) return;
    if (this.head >= this.terms.length / 2) {
      // Slide the window back to slot 0 instead of growing: the front was compacted away.
      this.terms.copyWithin(0, this.head, this.head + this.count);
      this.types.copyWithin(0, this.head, this.head + this.count);
      this.segments.copyWithin(0, this.head, this.head + this.count);
      this.offsets.copyWithin(0, this.head, this.head + this.count);
      this.lengths.copyWithin(0, this.head, this.head + this.count);
      this.head = 0;
      return;
    }
    this.allocate(this.terms.length * 2);
  }

  private allocate(capacity: number): void {
    assert(capacity >= this.count, "capacity holds the live slots");
    const range = [this.head, this.head + this.count] as const;
    const terms = new Float64Array(capacity);
    terms.set(this.terms.subarray(...range));
    const types = new Uint8Array(capacity);
    types.set(this.types.subarray(...range));
    const segments = new Uint32Array(capacity);
    segments.set(this.segments.subarray(...range));
    const offsets = new Uint32Array(capacity);
    offsets.set(this.offsets.subarray(...range));
    const lengths = new Uint32Array(capacity);
    lengths.set(this.lengths.subarray(...range));
    this.terms = terms;
    this.types = types;
    this.segments = segments;
    this.offsets = offsets;
    this.lengths = lengths;
    this.head = 0;
  }
}
