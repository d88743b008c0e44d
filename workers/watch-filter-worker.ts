// Worker-thread watch filter loop (one long piscina task): takes registration changes and applied event batches from
// its request ring, in the order the main thread applied them, keeps its view of the synced watchers in a FilterView
// (a RangeIndex over their ranges) and answers each batch with the (watcher, event indices) that match, one reply
// message per batch, in order. Matching is pure: a batch sent again (after a crash) gets the same kind of answer.
// Protocol: src/watch/filter-protocol.ts. An empty request message stops the loop.

import { unpackr } from '../src/proto/index.js';
import { Ring } from '../src/ring/index.js';
import {
  encodeReply,
  FilterView,
  ITEM_ADD,
  ITEM_BATCH,
  ITEM_CRASH,
  ITEM_REMOVE,
  type FilterLoopTask,
  type RequestItem,
} from '../src/watch/filter-protocol.js';

/** empty polls of the request ring before the worker sleeps in Atomics.wait */
const SPIN_POLLS = 2000;

export default function serve(task: FilterLoopTask): string {
  const requests = new Ring(task.requests);
  const replies = new Ring(task.replies);
  const view = new FilterView();
  for (;;) {
    const m = requests.take(SPIN_POLLS, 1000);
    if (m === null) continue;
    if (m.length === 0) return 'stopped';
    for (const item of unpackr.unpack(m) as RequestItem[]) {
      if (item[0] === ITEM_ADD) view.add(item);
      else if (item[0] === ITEM_REMOVE) view.remove(item[1]);
      else if (item[0] === ITEM_CRASH) process.exit(70); // in a worker thread this ends the thread only
      else if (item[0] === ITEM_BATCH) {
        const [, seq, keys, types, revisions] = item;
        const out = encodeReply(seq, keys.length, view.match({ keys, types, revisions }), replies.messageBytesMax / 2);
        while (!replies.push(out)) replies.waitForSpace(out.length, 1000);
      }
    }
  }
}
