// clientv3's watcher (clientv3/watch.go, 3.4) as etcdctl sees it: every watch of the process shares one Watch
// stream; a watch is created only once the one before it was (so their IDs pair up with the "created" answers in
// order); its channel gets the server's responses without the "created" one, a failed creation as a made-up canceled
// response, and closes after a compaction or a cancel. A lost connection is dialled again and every watch resumed
// from the revision after the last one it saw.

import { etcdError } from '../../errors/index.js';
import { EtcdError, GrpcCode, type ClientStream, type WatchCreateRequest, type WatchRequest, type WatchResponse } from '../../client/index.js';
import { clientErrorText, type Connection } from './connection.js';
import { isProgressNotify, watchErr, type WatchEvents } from './printers/index.js';

/** A Go channel of watch responses: read with next(), which resolves to null once the channel is closed and empty. */
export class WatchChan {
  private readonly items: WatchEvents[] = [];
  private waiter: ((v: WatchEvents | null) => void) | null = null;
  private closed = false;

  push(r: WatchEvents): void {
    if (this.closed) return;
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w(r);
    } else this.items.push(r);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.waiter !== null && this.items.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w(null);
    }
  }

  next(): Promise<WatchEvents | null> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

interface Substream {
  req: WatchCreateRequest;
  id: number;
  chan: WatchChan;
  /** resolves Watch(): the channel is handed out once the watch is created (or failed) */
  created: (chan: WatchChan) => void;
  handedOut: boolean;
  /** its context was cancelled before the server created it */
  abandoned: boolean;
}

function fromServer(r: WatchResponse): WatchEvents {
  return {
    header: r.header,
    events: r.events ?? [],
    compactRevision: Number(r.compact_revision ?? 0),
    canceled: r.canceled === true,
    created: r.created === true,
    closeErr: null,
    cancelReason: r.cancel_reason ?? '',
  };
}

function madeUpCancel(closeErr: string): WatchEvents {
  return { header: null, events: null, compactRevision: 0, canceled: true, created: false, closeErr, cancelReason: '' };
}

/** Errors after which clientv3 stops resuming watches (isHaltErr): all but Unavailable and Internal. */
function isHalt(err: Error): boolean {
  return !(err instanceof EtcdError) || (err.code !== GrpcCode.Unavailable && err.code !== GrpcCode.Internal);
}

const RESUME_DELAY_MS = 100;

export class Watcher {
  private stream: ClientStream<WatchRequest> | null = null;
  private opening: Promise<ClientStream<WatchRequest>> | null = null;
  private readonly substreams = new Map<number, Substream>();
  /** waiting for their "created" answer; only the head has been sent */
  private resuming: Substream[] = [];
  private readonly cancelSent = new Set<number>();
  /** the error that closed the stream, or a watch's creation failure (clientv3 keeps the latter for the stream too) */
  private closeErr: string | null = null;
  private halted = false;

  constructor(private readonly conn: Connection) {}

  /** clientv3's Watch: resolves with the watch's channel once the server created it (or refused it). */
  watch(req: WatchCreateRequest): Promise<WatchChan> {
    return new Promise((resolve) => {
      const sub: Substream = { req: { ...req }, id: -1, chan: new WatchChan(), created: resolve, handedOut: false, abandoned: false };
      if (this.halted) {
        sub.chan.push(madeUpCancel(this.closeErr ?? 'watch stream closed'));
        sub.chan.close();
        resolve(sub.chan);
        return;
      }
      this.resuming.push(sub);
      if (this.resuming.length === 1) void this.sendCreate(sub);
    });
  }

  /** clientv3's RequestProgress: a progress request on the watch stream (opened if there is none yet). */
  async requestProgress(): Promise<void> {
    const s = await this.ensureStream();
    s.send({ progress_request: {} });
  }

  private ensureStream(): Promise<ClientStream<WatchRequest>> {
    if (this.stream !== null) return Promise.resolve(this.stream);
    if (this.opening !== null) return this.opening;
    let ended = false;
    const opening: Promise<ClientStream<WatchRequest>> = this.conn
      .stream(
        'Watch',
        undefined,
        {
          message: (r) => this.onResponse(r),
          end: (err) => {
            ended = true;
            if (this.opening === opening) this.opening = null;
            this.onEnd(err);
          },
        },
        null,
      )
      .then((s) => {
        if (this.opening === opening) this.opening = null;
        // a stream that ended already is not kept: the resume onEnd scheduled opens another
        if (!ended) this.stream = s;
        return s;
      });
    this.opening = opening;
    return opening;
  }

  private async sendCreate(sub: Substream): Promise<void> {
    const s = await this.ensureStream();
    s.send({ create_request: sub.req });
  }

  private handOut(sub: Substream): void {
    if (sub.handedOut) return;
    sub.handedOut = true;
    sub.created(sub.chan);
  }

  private closeSubstream(sub: Substream): void {
    this.handOut(sub);
    if (this.closeErr !== null) sub.chan.push(madeUpCancel(this.closeErr));
    sub.chan.close();
    if (sub.id !== -1) this.substreams.delete(sub.id);
  }

  private nextResume(): Substream | undefined {
    return this.resuming[0];
  }

  private onResponse(r: WatchResponse): void {
    if (r.created === true) {
      const sub = this.resuming.shift();
      if (sub !== undefined) {
        if (r.watch_id === -1 || (r.canceled === true && (r.cancel_reason ?? '') !== '')) {
          this.closeErr = r.cancel_reason ?? '';
          this.closeSubstream(sub);
        } else if (sub.abandoned) {
          this.stream?.send({ cancel_request: { watch_id: r.watch_id } });
        } else {
          sub.id = r.watch_id;
          this.substreams.set(sub.id, sub);
          // once created, a watch from "now" resumes from the revision it was created at
          if ((sub.req.start_revision ?? 0) === 0) sub.req.start_revision = Number(r.header?.revision ?? 0);
          this.handOut(sub);
        }
      }
      const next = this.nextResume();
      if (next !== undefined) void this.sendCreate(next);
      return;
    }
    if (r.canceled === true && Number(r.compact_revision ?? 0) === 0) {
      const sub = this.substreams.get(r.watch_id);
      this.cancelSent.delete(r.watch_id);
      if (sub !== undefined) this.closeSubstream(sub);
      return;
    }
    if (r.fragment === true) return; // etcdctl never asks for fragments
    const wr = fromServer(r);
    if (isProgressNotify(wr) && r.watch_id === -1) {
      for (const sub of this.substreams.values()) this.deliver(sub, wr);
      return;
    }
    const sub = this.substreams.get(r.watch_id);
    if (sub !== undefined) {
      this.deliver(sub, wr);
      return;
    }
    // events for a watch this client does not know: cancel it, once
    if (this.cancelSent.has(r.watch_id)) return;
    this.cancelSent.add(r.watch_id);
    this.stream?.send({ cancel_request: { watch_id: r.watch_id } });
  }

  /** serveSubstream: note where to resume, pass the response on; a response carrying an error ends the watch. */
  private deliver(sub: Substream, wr: WatchEvents): void {
    let next = Number(wr.header?.revision ?? 0);
    const events = wr.events ?? [];
    if (events.length > 0) next = Number(events[events.length - 1]!.kv.mod_revision) + 1;
    sub.req.start_revision = next;
    sub.chan.push(wr);
    if (watchErr(wr) !== null) {
      this.substreams.delete(sub.id);
      sub.chan.close();
    }
  }

  private onEnd(err: Error | null): void {
    this.stream = null;
    const failure = err ?? etcdError('WatchStreamEnded');
    if (isHalt(failure)) {
      this.halted = true;
      this.closeErr = clientErrorText(failure);
      for (const sub of [...this.substreams.values(), ...this.resuming]) this.closeSubstream(sub);
      this.resuming = [];
      return;
    }
    // resume every watch on a new stream, in order, each from the revision after the last it saw
    for (const sub of this.substreams.values()) {
      sub.id = -1;
      this.resuming.push(sub);
    }
    this.substreams.clear();
    this.cancelSent.clear();
    setTimeout(() => {
      const next = this.nextResume();
      if (next !== undefined) void this.sendCreate(next);
    }, RESUME_DELAY_MS);
  }

  /** The watch's context was cancelled: its channel closes and the server is told to drop it. */
  cancel(chan: WatchChan): void {
    chan.close();
    for (const [id, sub] of this.substreams) {
      if (sub.chan !== chan) continue;
      this.substreams.delete(id);
      this.stream?.send({ cancel_request: { watch_id: id } });
      return;
    }
    const i = this.resuming.findIndex((sub) => sub.chan === chan);
    if (i < 0) return;
    // the head's create request is out: drop the watch once created; later ones are simply not sent
    if (i === 0) this.resuming[0]!.abandoned = true;
    else this.resuming.splice(i, 1);
  }

  close(): void {
    this.stream?.close();
    this.stream = null;
  }
}
