/**
 * ERLN: the gateway of this runtime (simulator or http), the integration-task worker, and the
 * sandbox's controls of the simulator (GET/PUT /admin/erln). Compositions write the tasks
 * (task-store.ts enqueueErlnTask) in the transaction of sign and cancel.
 */
import type { Capability, Platform, RoutesPlugin } from '../platform/platform.ts';
import { serviceKey } from '../platform/services.ts';
import { dataEnvelope, errorResponses, sendData } from '../platform/http/envelope.ts';
import { conflict } from '../platform/errors.ts';
import type { ErlnGateway } from './gateway.ts';
import { HttpErlnGateway } from './http-adapter.ts';
import { ErlnSimulator } from './simulator.ts';
import { DbErlnSimStore } from './sim-store-db.ts';
import { SimSettingsPatch, SimView, applySettingsPatch, simView } from './sim-controls.ts';
import { ERLN_QUEUE } from './task-store.ts';
import { runErlnTask } from './tasks.ts';
import { loadErlnDemo } from './demo.ts';

export const erlnGatewayKey = serviceKey<ErlnGateway>('erln-gateway', (platform) =>
  platform.config.ERLN_ADAPTER === 'http'
    ? new HttpErlnGateway(platform.config.ERLN_URL, platform.config.ERLN_TIMEOUT_MS)
    : new ErlnSimulator(new DbErlnSimStore(platform.db)),
);

export const HTTP_ADAPTER_CONTROLS =
  'ERLN_ADAPTER=http: this server talks to ERLN at ERLN_URL; set faults on the ERLN simulator itself (npm run erln-sim: PUT /admin/erln)';

export function simulatorOf(platform: Platform): ErlnSimulator {
  const gateway = platform.services.get(erlnGatewayKey);
  if (!(gateway instanceof ErlnSimulator)) throw conflict(HTTP_ADAPTER_CONTROLS);
  return gateway;
}

/** How long a claimed task is its worker's: one call's timeout and the job lease as a margin. */
export const leaseSecondsOf = (platform: Platform) => Math.ceil(platform.config.ERLN_TIMEOUT_MS / 1000) + platform.config.JOB_LEASE_SECONDS;

/** The sandbox's controls of the simulator (x-admin-key), under /admin. */
const erlnAdminRoutes: RoutesPlugin = async (app, { platform }) => {
  app.get(
    '/erln',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminGetErln',
        summary: 'ERLN simulator: fault settings, records (newest first), last calls',
        response: { 200: dataEnvelope(SimView, 'The simulator'), ...errorResponses({ 409: `request_conflict: ${HTTP_ADAPTER_CONTROLS}` }) },
      },
    },
    async (request, reply) => sendData(request, reply, await simView(simulatorOf(platform).store)),
  );
  app.put(
    '/erln',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminSetErln',
        summary: 'ERLN simulator: set faults (mode ok|down|reject|slow, reject_code, reject_message, delay_ms, fail_next)',
        body: SimSettingsPatch,
        response: {
          200: dataEnvelope(SimView, 'The simulator with the new settings'),
          ...errorResponses({
            409: `request_conflict: ${HTTP_ADAPTER_CONTROLS}`,
            422: 'validation_failed: a setting is unknown or out of range',
          }),
        },
      },
    },
    async (request, reply) => {
      const sim = simulatorOf(platform);
      await applySettingsPatch(sim.store, request.body);
      return sendData(request, reply, await simView(sim.store));
    },
  );
};

export const erlnCapability: Capability = {
  name: 'erln',
  demo: loadErlnDemo,
  jobs(platform) {
    const { config } = platform;
    platform.queue.defineQueue<{ taskId: string }>({
      name: ERLN_QUEUE,
      // the task counts its calls (ERLN_MAX_TRIES); the queue's own limit only backs that up
      retryLimit: config.ERLN_MAX_TRIES * 2 + 5,
      retryDelay: config.ERLN_RETRY_DELAY_SECONDS,
      retryBackoff: true,
      retryDelayMax: config.ERLN_RETRY_DELAY_MAX_SECONDS,
      expireInSeconds: leaseSecondsOf(platform),
      concurrency: 2,
      handler: (job) =>
        runErlnTask(
          {
            db: platform.db,
            log: platform.log,
            gateway: platform.services.get(erlnGatewayKey),
            maxTries: config.ERLN_MAX_TRIES,
            leaseSeconds: leaseSecondsOf(platform),
          },
          job.data.taskId,
        ),
    });
  },
  async routes(app, platform) {
    await app.register(erlnAdminRoutes, { prefix: '/admin', platform });
  },
};
