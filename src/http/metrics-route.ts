// GET /metrics: this member's Prometheus registry in the text exposition format (src/metrics).

import { metricsFor } from '../metrics/index.js';
import type { HttpRoutes } from './server.js';
import { reply, respondAsync } from './reply.js';

export const metricsRoutes: HttpRoutes = (app, { server }) => {
  const metrics = metricsFor(server);
  app.get('/metrics', (res) => {
    respondAsync(res, async () => {
      const text = await metrics.text();
      return (r) => reply(r, '200 OK', metrics.contentType, text);
    });
  });
};
