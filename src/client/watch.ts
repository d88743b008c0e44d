// A resumable watcher, as clientv3's: one Watch stream per watcher; when the stream ends because its connection
// broke (member died, failover to the next endpoint), it is reopened with start_revision = last revision delivered
// + 1, so the consumer sees no gap and no duplicate. Fragmented responses are reassembled before delivery; a cancel
// from the member (compaction, refusal) is reported, never retried.

import { EtcdError, GrpcCode } from '../errors/index.js';
import { prefixRangeEnd, type Bytes, type WatchCreateRequest, type WatchRequest, type WatchResponse } from '../proto/index.js';
import type { ClientStream, StreamOpener } from './stream.js';

export interface WatchOptions {
  key: string | Bytes;
  range_end?: string | Bytes;
  /** every key with `key` as prefix (range_end computed) */
  prefix?: boolean;
  start_revision?: number;
  prev_kv?: boolean;
  filters?: number[];
  progress_notify?: boolean;
  fragment?: boolean;
}

export interface WatchHandlers {
  /** events (whole responses, fragments joined), and progress notifications (no events; watch_id -1 answers requestProgress) */
  onEvents(resp: WatchResponse): void;
  /** the member cancelled the watch (compact_revision set when history was compacted past it) or refused it */
  onCanceled?(resp: WatchResponse): void;
  /** the stream failed for a reason that reopening does not cure; the watcher stops */
  onError?(err: Error): void;
}

export interface Watcher {
  cancel(): void;
  /** asks the member for a progress notification; false when no stream is open at the moment */
  requestProgress(): boolean;
  /** resolves once the member created the watch, with the revision after which events are delivered */
  readonly ready: Promise<number>;
  /** the revision everything up to which has been delivered (-1 before the watch was created) */
  readonly lastRevision: number;
  /** how many times the stream was reopened */
  readonly reopens: number;
}

const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1000;

const bytes = (v: string | Bytes): Bytes => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

export function watch(client: StreamOpener, opts: WatchOptions, handlers: WatchHandlers): Watcher {
  const key = bytes(opts.key);
  const base: WatchCreateRequest = {
    key,
    range_end: opts.prefix ? prefixRangeEnd(key) : opts.range_end === undefined ? undefined : bytes(opts.range_end),
    prev_kv: opts.prev_kv,
    filters: opts.filters,
    progress_notify: opts.progress_notify,
    fragment: opts.fragment,
  };
  let lastRev = (opts.start_revision ?? 0) > 0 ? opts.start_revision! - 1 : -1;
  let stream: ClientStream<WatchRequest> | null = null;
  let done = false;
  let reopens = 0;
  let backoffMs = 0;
  let timer: NodeJS.Timeout | null = null;
  let resolveReady!: (rev: number) => void;
  const ready = new Promise<number>((r) => (resolveReady = r));

  const stop = (): void => {
    done = true;
    if (timer !== null) clearTimeout(timer);
    stream?.close();
    stream = null;
  };

  const retry = (): void => {
    if (done) return;
    const delay = backoffMs;
    backoffMs = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, backoffMs * 2));
    reopens++;
    timer = setTimeout(() => {
      timer = null;
      void open();
    }, delay);
  };

  const open = async (): Promise<void> => {
    if (done) return;
    let fragments: WatchResponse | null = null;
    let ended = false;
    const deliver = (resp: WatchResponse): void => {
      const last = resp.events[resp.events.length - 1];
      lastRev = last !== undefined ? last.kv.mod_revision : Math.max(lastRev, resp.header.revision);
      handlers.onEvents(resp);
    };
    const message = (resp: WatchResponse): void => {
      if (done || ended) return;
      if (resp.created || resp.canceled) {
        if (resp.canceled) {
          stop();
          handlers.onCanceled?.(resp);
          return;
        }
        backoffMs = 0;
        if (lastRev < 0) lastRev = resp.header.revision;
        resolveReady(lastRev);
        return;
      }
      if (resp.fragment) {
        if (fragments === null) fragments = { ...resp, events: [...resp.events] };
        else fragments.events.push(...resp.events);
        return;
      }
      if (fragments !== null) {
        const whole: WatchResponse = { ...resp, events: [...fragments.events, ...resp.events] };
        fragments = null;
        return deliver(whole);
      }
      deliver(resp);
    };
    const end = (err: Error | null): void => {
      if (done || ended) return;
      ended = true;
      stream = null;
      // a broken connection (or a member that stopped serving) is cured by reopening, on the next endpoint if need be
      if (err === null || (err instanceof EtcdError && err.code === GrpcCode.Unavailable)) return retry();
      stop();
      handlers.onError?.(err);
    };
    const create: WatchCreateRequest = { ...base, start_revision: lastRev >= 0 ? lastRev + 1 : 0 };
    let s: ClientStream<WatchRequest>;
    try {
      s = await client.openStream('Watch', { create_request: create }, { message, end });
    } catch (err) {
      if (client.isClosed) return stop();
      return retry(); // no endpoint reachable right now
    }
    if (done) s.close();
    else if (!ended) stream = s;
  };

  void open();
  return {
    cancel: stop,
    requestProgress: () => stream?.send({ progress_request: {} }) ?? false,
    ready,
    get lastRevision() {
      return lastRev;
    },
    get reopens() {
      return reopens;
    },
  };
}
