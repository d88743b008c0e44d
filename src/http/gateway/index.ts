// The etcd JSON gateway and its WebSocket streams, as one HTTP route module (registered in src/cli/member.ts).

import type { HttpRoutes } from '../server.js';
import { registerWebSockets, type WebSocketOptions } from '../websocket.js';
import { registerGateway } from './http.js';

export interface GatewayOptions {
  readonly webSocket?: WebSocketOptions;
}

/** The gateway's routes; options exist so tests can use small bounds. */
export function gatewayRoutes(options: GatewayOptions = {}): HttpRoutes {
  return (app, ctx) => {
    // WebSocket upgrades first: a GET without an upgrade falls through to the 405 of the POST route
    registerWebSockets(app, ctx.server, ctx.limits, options.webSocket);
    registerGateway(app, ctx.server, ctx.limits);
  };
}

export const jsonGateway: HttpRoutes = gatewayRoutes();
