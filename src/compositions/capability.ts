/**
 * Compositions (medical conclusions): create, sign and cancel as async jobs, the job status endpoint
 * of seed 000, get and search, the `compositions` fixture kind and demo compositions. See
 * docs/decisions.md (Compositions).
 */
import type { Capability, Platform } from '../platform/platform.ts';
import { serviceKey } from '../platform/services.ts';
import { SIGNATURE_VERIFIER } from '../platform/signature.ts';
import { QUEUE_MAINTENANCE, QUEUE_PROCESS } from './model.ts';
import { ensureJobKinds, JobStore, sweep } from './job-store.ts';
import { Worker } from './worker.ts';
import { CompositionMetrics } from './metrics.ts';
import { compositionRoutes } from './routes.ts';
import { compositionsFixtureKind } from './fixtures.ts';
import { loadCompositionsDemo } from './demo.ts';

const RETRY_LIMIT = 5;

const JOB_STORE = serviceKey('compositions.jobs', (platform) => new JobStore(platform));
const METRICS = serviceKey('compositions.metrics', (platform) => new CompositionMetrics(platform.metrics.registry, platform.db));
const WORKER = serviceKey(
  'compositions.worker',
  (platform) =>
    new Worker({
      platform,
      verifier: platform.services.get(SIGNATURE_VERIFIER),
      metrics: platform.services.get(METRICS),
      retryLimit: RETRY_LIMIT,
    }),
);
/**
 * The start-up check of the job kinds (job-store.ts, ensureJobKinds), run once per runtime. The API
 * process awaits it before its routes exist (a mismatch stops the start); a worker process's jobs
 * wait for it, and fail loudly with it.
 */
const JOB_KINDS_CHECKED = serviceKey('compositions.jobKindsChecked', (platform) => {
  const checked = ensureJobKinds(platform.db);
  checked.catch((err) => platform.log.fatal({ err }, 'composition job kinds do not match the database'));
  return checked;
});

/** For tests and the sandbox: the job store, the maintenance sweep and the worker of a runtime. */
export function compositionsOf(platform: Platform) {
  const { services } = platform;
  return {
    store: services.get(JOB_STORE),
    sweep: () => sweep(platform),
    verifier: services.get(SIGNATURE_VERIFIER),
    worker: services.get(WORKER),
    retryLimit: RETRY_LIMIT,
  };
}

export const compositionsCapability: Capability = {
  name: 'compositions',
  jobs(platform) {
    const checked = platform.services.get(JOB_KINDS_CHECKED);
    const worker = platform.services.get(WORKER);
    platform.queue.defineQueue<{ jobId: string }>({
      name: QUEUE_PROCESS,
      retryLimit: RETRY_LIMIT,
      retryDelay: 1,
      retryBackoff: true,
      retryDelayMax: 60,
      expireInSeconds: platform.config.JOB_LEASE_SECONDS,
      // a fetch of up to 25 jobs is processed together (create jobs share their statements, create.ts)
      concurrency: 2,
      batchSize: 25,
      batchHandler: async (jobs) => {
        await checked;
        return worker.handleBatch(jobs);
      },
    });
    platform.queue.defineQueue({
      name: QUEUE_MAINTENANCE,
      retryLimit: 1,
      expireInSeconds: 300,
      concurrency: 1,
      handler: async () => {
        const r = await sweep(platform);
        if (r.deleted || r.expired.length) platform.log.info({ deleted: r.deleted, expired: r.expired.length }, 'composition jobs swept');
        return { deleted: r.deleted, expired: r.expired.length };
      },
    });
    platform.queue.defineSchedule({ queue: QUEUE_MAINTENANCE, cron: '* * * * *' });
  },
  async routes(app, platform) {
    await platform.services.get(JOB_KINDS_CHECKED);
    const jobs = platform.services.get(JOB_STORE);
    await app.register(compositionRoutes, { prefix: '/api', platform, jobs });
    // the seed's paths, without the prefix (hidden from the OpenAPI document)
    await app.register(compositionRoutes, { prefix: '', platform, jobs });
  },
  fixtures: [compositionsFixtureKind],
  demo: loadCompositionsDemo,
};
