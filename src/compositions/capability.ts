/**
 * Compositions (medical conclusions): create and sign as async jobs, the job status endpoint of
 * seed 000, get and search. See docs/decisions.md (Compositions).
 */
import type { Capability, Platform } from '../platform/platform.ts';
import { isEmbedded } from '../platform/config.ts';
import { QUEUE_MAINTENANCE, QUEUE_PROCESS } from './model.ts';
import { JobStore, sweep } from './jobs.ts';
import { Processor } from './processor.ts';
import { CompositionMetrics } from './metrics.ts';
import { registerRoutes } from './routes.ts';
import { loadRoots, PkijsSignatureVerifier, CompositeVerifier, type SignatureVerifier, type TrustMode } from './signature.ts';

const RETRY_LIMIT = 5;

interface State {
  store: JobStore;
  processor: Processor;
  metrics: CompositionMetrics;
  verifier: SignatureVerifier;
}
const states = new WeakMap<Platform, State>();

export function trustModeOf(platform: Platform): TrustMode {
  const t = platform.config.SIGNATURE_TRUST;
  if (t === 'auto') return isEmbedded(platform.config) ? 'any-test-ca' : 'trusted-roots';
  return t;
}

function stateOf(platform: Platform): State {
  let s = states.get(platform);
  if (!s) {
    const verifier = new CompositeVerifier(
      new PkijsSignatureVerifier({ trust: trustModeOf(platform), roots: loadRoots(platform.config.SIGNATURE_TRUST_ROOTS) }),
    );
    const metrics = new CompositionMetrics(platform.metrics.registry, platform.db);
    s = {
      store: new JobStore(platform),
      metrics,
      verifier,
      processor: new Processor({ platform, verifier, metrics, retryLimit: RETRY_LIMIT }),
    };
    states.set(platform, s);
  }
  return s;
}

/** For tests and the sandbox: the job store and the maintenance sweep of a runtime. */
export function compositionsOf(platform: Platform) {
  const s = stateOf(platform);
  return { store: s.store, sweep: () => sweep(platform), verifier: s.verifier, processor: s.processor, retryLimit: RETRY_LIMIT };
}

export const compositionsCapability: Capability = {
  name: 'compositions',
  jobs(platform) {
    const s = stateOf(platform);
    platform.queue.defineQueue<{ jobId: string }>({
      name: QUEUE_PROCESS,
      retryLimit: RETRY_LIMIT,
      retryDelay: 1,
      retryBackoff: true,
      retryDelayMax: 60,
      expireInSeconds: platform.config.JOB_LEASE_SECONDS,
      // a fetch of up to 25 jobs is processed together (create jobs share their statements, processor.ts)
      concurrency: 2,
      batchSize: 25,
      batchHandler: (jobs) => s.processor.handleBatch(jobs),
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
  routes(app, platform) {
    registerRoutes(app, platform, stateOf(platform).store);
  },
};
