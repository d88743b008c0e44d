// Watch fan-out encodes each event batch once: a plain event response {header, watch_id, events} is assembled from
// the msgpack encodings of its header and its events, cached by object identity (the hub hands the same objects to
// every watcher of a batch), and of the watcher's id. What the client decodes is the same map encodeFrame makes.

import { FrameKind, frameEncodedParts, packr, type Event, type ResponseHeader } from '../proto/index.js';

const MAP_OF_3 = Buffer.from([0x83]);
const KEY_HEADER = Buffer.from(packr.pack('header'));
const KEY_WATCH_ID = Buffer.from(packr.pack('watch_id'));
const KEY_EVENTS = Buffer.from(packr.pack('events'));

// msgpackr may reuse its output buffer on the next pack: cached encodings are copies.
const headers = new WeakMap<ResponseHeader, Buffer>();
const eventLists = new WeakMap<readonly Event[], Buffer>();

export function encodeWatchEventsFrame(streamId: number, header: ResponseHeader, watchId: number, events: readonly Event[]): Buffer {
  let h = headers.get(header);
  if (h === undefined) headers.set(header, (h = Buffer.from(packr.pack(header))));
  let e = eventLists.get(events);
  if (e === undefined) eventLists.set(events, (e = Buffer.from(packr.pack(events))));
  return frameEncodedParts(FrameKind.StreamMessage, streamId, [MAP_OF_3, KEY_HEADER, h, KEY_WATCH_ID, packr.pack(watchId), KEY_EVENTS, e]);
}
