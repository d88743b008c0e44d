// A bounded single-producer single-consumer ring of byte messages in a SharedArrayBuffer, for the per-request
// traffic between the main thread and a worker (one ring each way per worker; the main thread is the only producer of
// a worker's request ring however many connections feed it, since JavaScript runs one turn at a time there).
//
// Layout: Int32 control words [head, tail, data waiters, space waiters] then `capacity` data bytes (a power of two). head and tail are free-running
// 32-bit byte counters (they wrap at 2^32; used = (head - tail) >>> 0). A message is a 4-byte little-endian length
// and its bytes, both written across the end of the data area when they reach it. The producer writes the bytes and
// then publishes the new head with Atomics.store (a release: the consumer that loads head sees the bytes); the
// consumer copies the message out, then publishes the new tail. A full ring is backpressure: push() returns false
// and the producer waits for space (waitForSpaceAsync on the main thread, never a blocking wait there).

const HEAD = 0;
const TAIL = 1;
/** threads waiting for data / for space: a push or pop notifies only when someone waits (notify is not free) */
const DATA_WAITERS = 2;
const SPACE_WAITERS = 3;
const CONTROL_BYTES = 16;
const LENGTH_BYTES = 4;

export class RingFullError extends Error {}

/** Atomics.waitAsync (Node 16+; not in TypeScript's ES2022 lib). */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeoutMs?: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

export class Ring {
  readonly capacity: number;
  private readonly control: Int32Array;
  private readonly data: Uint8Array;
  private readonly mask: number;

  /** Wraps a buffer made by Ring.create (in any thread). */
  constructor(readonly buffer: SharedArrayBuffer) {
    this.capacity = buffer.byteLength - CONTROL_BYTES;
    if (this.capacity <= LENGTH_BYTES || (this.capacity & (this.capacity - 1)) !== 0) {
      throw new Error(`ring: data area of ${this.capacity} bytes is not a power of two above ${LENGTH_BYTES}`);
    }
    this.control = new Int32Array(buffer, 0, 4);
    this.data = new Uint8Array(buffer, CONTROL_BYTES, this.capacity);
    this.mask = this.capacity - 1;
  }

  /** A ring with `capacity` data bytes (rounded up to a power of two). */
  static create(capacity: number): Ring {
    let size = 16;
    while (size < capacity) size *= 2;
    return new Ring(new SharedArrayBuffer(CONTROL_BYTES + size));
  }

  /** Largest message that can ever fit. */
  get messageBytesMax(): number {
    return this.capacity - LENGTH_BYTES;
  }

  /** Bytes in use (messages not yet popped, length prefixes included). */
  get usedBytes(): number {
    return (Atomics.load(this.control, HEAD) - Atomics.load(this.control, TAIL)) >>> 0;
  }

  private copyIn(at: number, bytes: Uint8Array): void {
    const start = at & this.mask;
    const first = Math.min(bytes.length, this.capacity - start);
    this.data.set(first === bytes.length ? bytes : bytes.subarray(0, first), start);
    if (first < bytes.length) this.data.set(bytes.subarray(first), 0);
  }

  private copyOut(at: number, out: Uint8Array): void {
    const start = at & this.mask;
    const first = Math.min(out.length, this.capacity - start);
    out.set(this.data.subarray(start, start + first));
    if (first < out.length) out.set(this.data.subarray(0, out.length - first), first);
  }

  /** Appends one message; false when it does not fit now (the ring is full: backpressure). */
  push(message: Uint8Array): boolean {
    if (message.length > this.messageBytesMax) throw new RingFullError(`ring: message of ${message.length} bytes exceeds ${this.messageBytesMax}`);
    const head = Atomics.load(this.control, HEAD) >>> 0;
    const tail = Atomics.load(this.control, TAIL) >>> 0;
    const free = this.capacity - ((head - tail) >>> 0);
    if (free < LENGTH_BYTES + message.length) return false;
    const d = this.data;
    const m = this.mask;
    const n = message.length;
    d[head & m] = n & 0xff;
    d[(head + 1) & m] = (n >>> 8) & 0xff;
    d[(head + 2) & m] = (n >>> 16) & 0xff;
    d[(head + 3) & m] = n >>> 24;
    this.copyIn(head + LENGTH_BYTES, message);
    Atomics.store(this.control, HEAD, (head + LENGTH_BYTES + message.length) | 0);
    if (Atomics.load(this.control, DATA_WAITERS) > 0) Atomics.notify(this.control, HEAD);
    return true;
  }

  /** Removes and returns the oldest message (a copy), or null when the ring is empty. */
  pop(): Uint8Array | null {
    const tail = Atomics.load(this.control, TAIL) >>> 0;
    const head = Atomics.load(this.control, HEAD) >>> 0;
    if (head === tail) return null;
    const d = this.data;
    const m = this.mask;
    const length = (d[tail & m]! | (d[(tail + 1) & m]! << 8) | (d[(tail + 2) & m]! << 16) | (d[(tail + 3) & m]! << 24)) >>> 0;
    if (length > this.messageBytesMax || LENGTH_BYTES + length > ((head - tail) >>> 0)) {
      throw new Error(`ring: corrupt message length ${length} at ${tail}`);
    }
    const out = new Uint8Array(length);
    this.copyOut(tail + LENGTH_BYTES, out);
    Atomics.store(this.control, TAIL, (tail + LENGTH_BYTES + length) | 0);
    if (Atomics.load(this.control, SPACE_WAITERS) > 0) Atomics.notify(this.control, TAIL);
    return out;
  }

  // Waiting: announce the waiter first, then look again, then wait on the value looked at. Atomics are sequentially
  // consistent, so either the other side sees the waiter and notifies, or this side sees the change and does not
  // sleep (or its wait returns at once because the word changed).

  /** Blocks (workers only: Atomics.wait) until a message may be there or the timeout passes. */
  waitForData(timeoutMs = Infinity): void {
    Atomics.add(this.control, DATA_WAITERS, 1);
    try {
      const head = Atomics.load(this.control, HEAD);
      if (((head - Atomics.load(this.control, TAIL)) >>> 0) !== 0) return;
      Atomics.wait(this.control, HEAD, head, timeoutMs);
    } finally {
      Atomics.sub(this.control, DATA_WAITERS, 1);
    }
  }

  /** Resolves when a message may be there (main thread: Atomics.waitAsync, the event loop keeps running). */
  async waitForDataAsync(timeoutMs = Infinity): Promise<void> {
    Atomics.add(this.control, DATA_WAITERS, 1);
    try {
      const head = Atomics.load(this.control, HEAD);
      if (((head - Atomics.load(this.control, TAIL)) >>> 0) !== 0) return;
      const w = waitAsync(this.control, HEAD, head, timeoutMs);
      if (w.async) await w.value;
    } finally {
      Atomics.sub(this.control, DATA_WAITERS, 1);
    }
  }

  /** Blocks (workers only) until `bytes` may fit or the timeout passes. */
  waitForSpace(bytes: number, timeoutMs = Infinity): void {
    Atomics.add(this.control, SPACE_WAITERS, 1);
    try {
      const tail = Atomics.load(this.control, TAIL);
      if (this.capacity - ((Atomics.load(this.control, HEAD) - tail) >>> 0) >= LENGTH_BYTES + bytes) return;
      Atomics.wait(this.control, TAIL, tail, timeoutMs);
    } finally {
      Atomics.sub(this.control, SPACE_WAITERS, 1);
    }
  }

  /** Resolves when the consumer has freed space since the call (or at once if `bytes` fit now). */
  async waitForSpaceAsync(bytes: number, timeoutMs = Infinity): Promise<void> {
    Atomics.add(this.control, SPACE_WAITERS, 1);
    try {
      const tail = Atomics.load(this.control, TAIL);
      if (this.capacity - ((Atomics.load(this.control, HEAD) - tail) >>> 0) >= LENGTH_BYTES + bytes) return;
      const w = waitAsync(this.control, TAIL, tail, timeoutMs);
      if (w.async) await w.value;
    } finally {
      Atomics.sub(this.control, SPACE_WAITERS, 1);
    }
  }

  /**
   * Worker side: the next message, polling `spinPolls` times before sleeping in Atomics.wait (a futex wake-up costs
   * more than a few polls); null when nothing came within the timeout.
   */
  take(spinPolls: number, timeoutMs: number): Uint8Array | null {
    let m = this.pop();
    for (let spin = 0; m === null && spin < spinPolls; spin++) m = this.pop();
    if (m !== null) return m;
    this.waitForData(timeoutMs);
    return this.pop();
  }

  /** Main-thread side: every message as it arrives, waiting with Atomics.waitAsync, for as long as `open()` holds. */
  async *messages(open: () => boolean, pollMs = 500): AsyncGenerator<Uint8Array> {
    while (open()) {
      const m = this.pop();
      if (m === null) await this.waitForDataAsync(pollMs);
      else yield m;
    }
  }

  /** Pushes, waiting for space as long as needed (main thread). */
  async pushAsync(message: Uint8Array): Promise<void> {
    while (!this.push(message)) await this.waitForSpaceAsync(message.length);
  }
}
