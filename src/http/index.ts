// The HTTP front end's public face: the uWebSockets.js server and the route modules it serves, in registration order
// (the JSON gateway first, then health and metrics, then the dashboard; the 404 fallback comes last, in server.ts).

import { jsonGateway } from './gateway/index.js';
import { healthRoutes } from './health.js';
import { metricsRoutes } from './metrics-route.js';
import { dashboardRoutes } from './dashboard-route.js';
import type { HttpRoutes } from './server.js';

export { HttpServer, type HttpContext, type HttpPrivateAddress, type HttpRoutes, type HttpServerOptions } from './server.js';

/** Every route module of a member's client URLs. */
export const httpRoutes: readonly HttpRoutes[] = [jsonGateway, healthRoutes, metricsRoutes, dashboardRoutes];
