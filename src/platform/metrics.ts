/**
 * Prometheus metrics, one Registry per runtime (tests build many apps in one process).
 * Capabilities add their own collectors through `registry`.
 */
import { Registry, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';
import type { App } from './http/server.ts';
import type { JobQueue } from './queue.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(queue?: JobQueue) {
    collectDefaultMetrics({ register: this.registry, prefix: 'esoz_' });
    this.httpDuration = new Histogram({
      name: 'esoz_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    if (queue) {
      new Gauge({
        name: 'esoz_queue_jobs',
        help: 'Queue depth by queue and state (queued, active, failed)',
        labelNames: ['queue', 'state'],
        registers: [this.registry],
        async collect() {
          for (const q of await queue.depth().catch(() => [])) {
            this.set({ queue: q.name, state: 'queued' }, q.queued);
            this.set({ queue: q.name, state: 'active' }, q.active);
            this.set({ queue: q.name, state: 'failed' }, q.failed);
          }
        },
      });
    }
  }

  instrument(app: App) {
    // one labelled child per method/route/status, looked up by a string key (no label hashing per request)
    const children = new Map<string, ReturnType<typeof this.httpDuration.labels>>();
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const key = `${request.method} ${reply.statusCode} ${route}`;
      let child = children.get(key);
      if (!child) {
        child = this.httpDuration.labels({ method: request.method, route, status: String(reply.statusCode) });
        if (children.size < 10_000) children.set(key, child);
      }
      child.observe(reply.elapsedTime / 1000);
    });
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      reply.type(this.registry.contentType);
      return this.registry.metrics();
    });
  }
}
