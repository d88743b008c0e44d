// Which watchers a key falls into: single-key watchers by a map, range watchers grouped by their exact range (many
// watchers often share one prefix) in a static centered interval tree that is rebuilt lazily after changes. A stab
// costs O(log n + matches), not a scan of every watcher: the shape issue 5 moves into workers unchanged.
//
// Keys are compared as latin1 strings: each byte becomes one UTF-16 code unit, so string order is byte order.

export type KeyString = string;

export function keyString(key: Uint8Array): KeyString {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

interface Group<T> {
  start: KeyString;
  /** exclusive; null = no upper bound (from-key) */
  end: KeyString | null;
  members: Set<T>;
}

interface TreeNode<T> {
  center: KeyString;
  /** groups containing `center`, sorted by start ascending and (separately) by end descending */
  byStart: Group<T>[];
  byEnd: Group<T>[];
  left: TreeNode<T> | null;
  right: TreeNode<T> | null;
}

function contains<T>(g: Group<T>, k: KeyString): boolean {
  return g.start <= k && (g.end === null || k < g.end);
}

function build<T>(groups: Group<T>[]): TreeNode<T> | null {
  if (groups.length === 0) return null;
  const starts = groups.map((g) => g.start).sort();
  const center = starts[starts.length >> 1]!;
  const here: Group<T>[] = [];
  const left: Group<T>[] = [];
  const right: Group<T>[] = [];
  for (const g of groups) {
    if (g.end !== null && g.end <= center) left.push(g);
    else if (g.start > center) right.push(g);
    else here.push(g);
  }
  return {
    center,
    byStart: [...here].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)),
    byEnd: [...here].sort((a, b) => (a.end === b.end ? 0 : a.end === null ? -1 : b.end === null ? 1 : a.end > b.end ? -1 : 1)),
    left: build(left),
    right: build(right),
  };
}

export class RangeIndex<T> {
  private readonly single = new Map<KeyString, Set<T>>();
  private readonly groups = new Map<string, Group<T>>();
  private tree: TreeNode<T> | null = null;
  private dirty = false;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Distinct ranges (single keys and exact ranges): what a stab's cost grows with, unlike watchers sharing a range. */
  get distinctRanges(): number {
    return this.single.size + this.groups.size;
  }

  /** end: undefined = the single key `start`; null = every key >= start; else the exclusive end. */
  add(item: T, start: KeyString, end: KeyString | null | undefined): void {
    this.count++;
    if (end === undefined) {
      let set = this.single.get(start);
      if (set === undefined) this.single.set(start, (set = new Set()));
      set.add(item);
      return;
    }
    const id = groupId(start, end);
    let g = this.groups.get(id);
    if (g === undefined) {
      this.groups.set(id, (g = { start, end, members: new Set() }));
      this.dirty = true;
    }
    g.members.add(item);
  }

  remove(item: T, start: KeyString, end: KeyString | null | undefined): void {
    if (end === undefined) {
      const set = this.single.get(start);
      if (set?.delete(item)) {
        this.count--;
        if (set.size === 0) this.single.delete(start);
      }
      return;
    }
    const id = groupId(start, end);
    const g = this.groups.get(id);
    if (g?.members.delete(item)) {
      this.count--;
      if (g.members.size === 0) {
        this.groups.delete(id);
        this.dirty = true;
      }
    }
  }

  /** Calls visit for every item whose range contains the key. */
  stab(k: KeyString, visit: (item: T) => void): void {
    const set = this.single.get(k);
    if (set !== undefined) for (const item of set) visit(item);
    if (this.groups.size === 0) return;
    if (this.dirty) {
      this.tree = build([...this.groups.values()]);
      this.dirty = false;
    }
    let node = this.tree;
    while (node !== null) {
      if (k < node.center) {
        // every group here ends after center > k: those starting at or before k contain it
        for (const g of node.byStart) {
          if (g.start > k) break;
          for (const item of g.members) visit(item);
        }
        node = node.left;
      } else {
        // every group here starts at or before center <= k: those ending after k contain it
        for (const g of node.byEnd) {
          if (g.end !== null && g.end <= k) break;
          if (contains(g, k)) for (const item of g.members) visit(item);
        }
        node = k === node.center ? null : node.right;
      }
    }
  }
}

function groupId(start: KeyString, end: KeyString | null): string {
  // lengths first: no separator can be ambiguous for arbitrary bytes
  return `${start.length}:${start}${end === null ? '*' : `=${end}`}`;
}
