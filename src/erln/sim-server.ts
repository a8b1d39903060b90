/**
 * The ERLN simulator as an HTTP server speaking the contract of http-adapter.ts, plus its controls
 * (`GET /admin/erln`, `PUT /admin/erln`, the same bodies as the sandbox's routes). `npm run erln-sim`
 * runs it on its own; tests start it on a free port.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErlnCancelRequest, ErlnCreateRequest } from './contract.ts';
import { ErlnUnreachableError } from './gateway.ts';
import type { ErlnSimulator } from './simulator.ts';
import { SimSettingsPatch, applySettingsPatch, simView } from './sim-controls.ts';

export function createErlnSimServer(sim: ErlnSimulator, opts: { logger?: boolean } = {}): FastifyInstance {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 256 * 1024 }).withTypeProvider<TypeBoxTypeProvider>();
  const answer = async (call: () => Promise<unknown>) => {
    try {
      return { status: 200, body: await call() };
    } catch (err) {
      if (err instanceof ErlnUnreachableError) return { status: 503, body: { error: err.message } };
      throw err;
    }
  };
  const key = (headers: Record<string, unknown>) => {
    const k = headers['idempotency-key'];
    return typeof k === 'string' && k ? k : undefined;
  };

  app.post('/records', { schema: { body: ErlnCreateRequest } }, async (request, reply) => {
    const k = key(request.headers);
    if (!k) return reply.code(400).send({ error: 'Idempotency-Key header is required' });
    const r = await answer(() => sim.createRecord(request.body, k));
    return reply.code(r.status).send(r.body);
  });
  app.post('/records/cancel', { schema: { body: ErlnCancelRequest } }, async (request, reply) => {
    const k = key(request.headers);
    if (!k) return reply.code(400).send({ error: 'Idempotency-Key header is required' });
    const r = await answer(() => sim.cancelRecord(request.body, k));
    return reply.code(r.status).send(r.body);
  });
  app.get('/admin/erln', async () => simView(sim.store));
  app.put('/admin/erln', { schema: { body: SimSettingsPatch } }, async (request) => {
    await applySettingsPatch(sim.store, request.body);
    return simView(sim.store);
  });
  app.delete('/admin/erln', async () => {
    await sim.store.reset();
    return simView(sim.store);
  });
  return app;
}
