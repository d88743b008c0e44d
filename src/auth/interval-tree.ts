// The interval tree etcd 3.4 merges a user's permissions into (pkg/adt/interval_tree.go): a red-black tree keyed by
// interval start (equal starts go right), each node holding the largest end in its subtree, searched with adt's
// interval comparison. Written again here, step for step, because its answers are etcd's answers: for well-formed
// intervals they are plain interval arithmetic, but etcd 3.4.23 stores inverted permission ranges ([/b, /a)) as they
// come, and then which nodes a search visits (the tree's shape, and its max bookkeeping, which stops walking up as
// soon as a node's max is unchanged) decides what is allowed. Only insertion and the searches etcd's permission check
// uses are here.

import { compareAffine, type Interval } from './affine.js';

const RED = 0;
const BLACK = 1;

interface Node {
  ivl: Interval;
  /** the largest end in this node's subtree, as adt's updateMax leaves it */
  max: Uint8Array;
  left: Node;
  right: Node;
  parent: Node;
  color: number;
}

/**
 * adt's Interval.Compare, seen from `a`: -1 when a is left of b (starts before it and ends at or before its start),
 * 1 when a starts at or after b's end, 0 otherwise ("overlaps").
 */
export function compareIntervals(a: Interval, b: Interval): number {
  if (compareAffine(a.begin, b.begin) < 0 && compareAffine(a.end, b.begin) <= 0) return -1;
  if (compareAffine(a.begin, b.end) >= 0) return 1;
  return 0;
}

export class IntervalTree {
  /** one shared black leaf, also the root's parent */
  private readonly nil: Node;
  private root: Node;
  private count = 0;

  constructor() {
    const nil = {} as Node;
    nil.left = nil;
    nil.right = nil;
    nil.parent = nil;
    nil.color = BLACK;
    nil.max = new Uint8Array(0);
    this.nil = nil;
    this.root = nil;
  }

  get size(): number {
    return this.count;
  }

  insert(ivl: Interval): void {
    const nil = this.nil;
    const z: Node = { ivl, max: ivl.end, left: nil, right: nil, parent: nil, color: RED };
    let y = nil;
    let x = this.root;
    while (x !== nil) {
      y = x;
      x = compareAffine(ivl.begin, x.ivl.begin) < 0 ? x.left : x.right;
    }
    z.parent = y;
    if (y === nil) this.root = z;
    else {
      if (compareAffine(ivl.begin, y.ivl.begin) < 0) y.left = z;
      else y.right = z;
      this.updateMax(y);
    }
    this.insertFixup(z);
    this.count++;
  }

  /** adt's Intersects for the point [key, key+"\0"): overlapping a node means start <= key < end. */
  holdsPoint(key: Uint8Array): boolean {
    const nil = this.nil;
    let x = this.root;
    while (x !== nil && !(compareAffine(x.ivl.begin, key) <= 0 && compareAffine(key, x.ivl.end) < 0)) {
      x = x.left !== nil && compareAffine(x.left.max, key) > 0 ? x.left : x.right;
    }
    return x !== nil;
  }

  /** adt's Intersects: the descent that stops at the first node overlapping `q`. */
  intersects(q: Interval): boolean {
    const nil = this.nil;
    let x = this.root;
    while (x !== nil && compareIntervals(q, x.ivl) !== 0) {
      x = x.left !== nil && compareAffine(x.left.max, q.begin) > 0 ? x.left : x.right;
    }
    return x !== nil;
  }

  /** adt's Contains: the nodes Visit reaches for `q`, in order, cover it without a gap. */
  contains(q: Interval): boolean {
    let minBegin: Uint8Array | null = null;
    let maxEnd: Uint8Array = new Uint8Array(0);
    let contiguous = true;
    this.visit(this.root, q, (ivl) => {
      if (minBegin === null) {
        minBegin = ivl.begin;
        maxEnd = ivl.end;
        return true;
      }
      if (compareAffine(maxEnd, ivl.begin) < 0) {
        contiguous = false;
        return false;
      }
      if (compareAffine(ivl.end, maxEnd) > 0) maxEnd = ivl.end;
      return true;
    });
    return contiguous && minBegin !== null && compareAffine(maxEnd, q.end) >= 0 && compareAffine(minBegin, q.begin) <= 0;
  }

  /** adt's visit: the nodes overlapping `q` that its pruning reaches, in start order; false from `f` stops it. */
  private visit(x: Node, q: Interval, f: (ivl: Interval) => boolean): boolean {
    const nil = this.nil;
    if (x === nil) return true;
    const v = compareIntervals(q, x.ivl);
    if (v < 0) return this.visit(x.left, q, f);
    if (v > 0) {
      if (compareIntervals({ begin: x.ivl.begin, end: x.max }, q) === 0) return this.visit(x.left, q, f) && this.visit(x.right, q, f);
      return true;
    }
    return this.visit(x.left, q, f) && f(x.ivl) && this.visit(x.right, q, f);
  }

  /** adt's updateMax: recomputes maxes up from `x`, stopping at the first node whose max does not change. */
  private updateMax(x: Node): void {
    const nil = this.nil;
    while (x !== nil) {
      const old = x.max;
      let max = x.ivl.end;
      if (x.left !== nil && compareAffine(x.left.max, max) > 0) max = x.left.max;
      if (x.right !== nil && compareAffine(x.right.max, max) > 0) max = x.right.max;
      if (compareAffine(old, max) === 0) break;
      x.max = max;
      x = x.parent;
    }
  }

  private insertFixup(z: Node): void {
    while (z.parent.color === RED) {
      const gp = z.parent.parent;
      if (z.parent === gp.left) {
        const y = gp.right;
        if (y.color === RED) {
          y.color = BLACK;
          z.parent.color = BLACK;
          gp.color = RED;
          z = gp;
        } else {
          if (z === z.parent.right) {
            z = z.parent;
            this.rotateLeft(z);
          }
          z.parent.color = BLACK;
          z.parent.parent.color = RED;
          this.rotateRight(z.parent.parent);
        }
      } else {
        const y = gp.left;
        if (y.color === RED) {
          y.color = BLACK;
          z.parent.color = BLACK;
          gp.color = RED;
          z = gp;
        } else {
          if (z === z.parent.left) {
            z = z.parent;
            this.rotateRight(z);
          }
          z.parent.color = BLACK;
          z.parent.parent.color = RED;
          this.rotateLeft(z.parent.parent);
        }
      }
    }
    this.root.color = BLACK;
  }

  private rotateLeft(x: Node): void {
    const nil = this.nil;
    if (x.right === nil) return;
    const y = x.right;
    x.right = y.left;
    if (y.left !== nil) y.left.parent = x;
    this.updateMax(x);
    this.replaceParent(x, y);
    y.left = x;
    this.updateMax(y);
  }

  private rotateRight(x: Node): void {
    const nil = this.nil;
    if (x.left === nil) return;
    const y = x.left;
    x.left = y.right;
    if (y.right !== nil) y.right.parent = x;
    this.updateMax(x);
    this.replaceParent(x, y);
    y.right = x;
    this.updateMax(y);
  }

  /** adt's replaceParent: y takes x's place under x's parent, whose max is recomputed; x's parent becomes y. */
  private replaceParent(x: Node, y: Node): void {
    const nil = this.nil;
    y.parent = x.parent;
    if (x.parent === nil) this.root = y;
    else {
      if (x === x.parent.left) x.parent.left = y;
      else x.parent.right = y;
      this.updateMax(x.parent);
    }
    x.parent = y;
  }
}
