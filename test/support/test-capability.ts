/** A capability used only by platform tests: routes and a queue that exercise the platform. */
import { Type } from 'typebox';
import type { Capability, Platform } from '../../src/platform/platform.ts';
import { sendData, dataEnvelope } from '../../src/platform/http/envelope.ts';

export interface TestCapabilityState {
  handled: { id: string; data: any; retryCount: number }[];
  failFirst: Map<string, number>;
  platform?: Platform;
}

export function testCapability(state: TestCapabilityState): Capability {
  return {
    name: 'platform-test',
    jobs(platform) {
      state.platform = platform;
      platform.queue.defineQueue<{ key: string }>({
        name: 'platform-test',
        retryLimit: 5,
        retryDelay: 1,
        retryBackoff: false,
        expireInSeconds: 2,
        async handler(job) {
          const left = state.failFirst.get(job.data.key) ?? 0;
          if (left > 0) {
            state.failFirst.set(job.data.key, left - 1);
            throw new Error('transient failure (test)');
          }
          state.handled.push({ id: job.id, data: job.data, retryCount: job.retryCount });
        },
      });
    },
    routes(app) {
      app.post(
        '/api/test/echo',
        {
          config: { scopes: ['test:echo'] },
          schema: {
            body: Type.Object(
              {
                name: Type.String({ minLength: 2 }),
                age: Type.Integer({ minimum: 0 }),
                person: Type.Object(
                  { id: Type.String({ format: 'uuid' }), kind: Type.Union([Type.Literal('OTP'), Type.Literal('OFFLINE')]) },
                  { additionalProperties: false },
                ),
              },
              { additionalProperties: false },
            ),
          },
        },
        async (req, reply) => sendData(req, reply, { echo: req.body, client_id: req.auth.clientId }),
      );
      app.patch('/api/test/action', { config: { scopes: ['test:echo'] } }, async (req, reply) => sendData(req, reply, { done: true }));
      app.get('/api/test/list', { config: { scopes: ['test:echo'] } }, async (req, reply) =>
        sendData(req, reply, [{ n: 1 }, { n: 2 }], { paging: { page_number: 1, page_size: 50, total_entries: 2, total_pages: 1 } }),
      );
      // declares {n: integer}; ?bad=1 answers {n: "one"}, which the response check must refuse
      app.get(
        '/api/test/declared',
        {
          config: { scopes: ['test:echo'] },
          schema: { response: { 200: dataEnvelope(Type.Object({ n: Type.Integer() }, { additionalProperties: false }), 'n') } },
        },
        async (req, reply) => sendData(req, reply, (req.query as { bad?: string }).bad ? { n: 'one' } : { n: 1 }),
      );
      app.get('/api/test/boom', { config: { scopes: ['test:echo'] } }, async () => {
        throw new Error('secret internals: password=hunter2');
      });
    },
  };
}
