// Starting and stopping one member: storage, server and front ends, in that order (and the reverse on close).

import type { Config } from '../config/index.js';
import { openStorage, type Storage } from '../storage/index.js';
import { EtcdServer, type ServerEvents, type ServerOptions } from '../server/index.js';
import { BinaryServer, type ListeningAddress } from '../binary/index.js';
import { HttpServer, httpRoutes } from '../http/index.js';

export interface Member {
  readonly server: EtcdServer;
  readonly storage: Storage;
  readonly binaryAddresses: ListeningAddress[];
  readonly httpAddresses: ListeningAddress[];
  close(): Promise<void>;
}

export async function startMember(config: Config, events: ServerEvents = {}, options: ServerOptions = {}): Promise<Member> {
  const storage = await openStorage(config.dataDir);
  let server: EtcdServer | null = null;
  let binary: BinaryServer | null = null;
  let http: HttpServer | null = null;
  try {
    server = await EtcdServer.start(config, storage, events, options);
    binary = new BinaryServer({ server, limits: config.limits, urls: config.listenClientBinaryUrls });
    const binaryAddresses = await binary.listen();
    server.setBinaryURLs(binaryAddresses.map((a) => `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`));
    http = new HttpServer({ server, limits: config.limits, urls: config.listenClientUrls, routes: httpRoutes });
    const httpAddresses = await http.listen();
    let closing: Promise<void> | null = null;
    const s = server;
    const b = binary;
    const h = http;
    return {
      server: s,
      storage,
      binaryAddresses,
      httpAddresses,
      close(): Promise<void> {
        closing ??= (async () => {
          await h.close();
          await b.close();
          await s.close();
          await storage.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await http?.close();
    await binary?.close();
    await server?.close();
    await storage.close();
    throw err;
  }
}
