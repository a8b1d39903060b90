/**
 * `POST /admin/reset`: the sandbox back to its demo state (or empty), in one transaction — the domain
 * tables, the queued jobs and the SMS outbox emptied, the faults cleared, the demo data loaded again.
 * MIS clients and tokens are kept, so the credentials printed at start (and any made since) stay valid.
 */
import type { Platform } from '../platform/platform.ts';
import { FAULTS } from '../platform/faults.ts';
import { requestJournalKey } from '../platform/http/journal.ts';
import { DbErlnSimStore } from '../erln/sim-store-db.ts';
import { emptyDomainTables } from './sandbox-store.ts';
import { loadDemo } from './demo.ts';

export async function resetSandbox(platform: Platform, opts: { demo: boolean }): Promise<{ demo: boolean }> {
  await platform.db.transaction(async (tx) => {
    // 1. every domain row and every queued job of this runtime's queues
    await emptyDomainTables(tx, platform.queue.queueNames);
    // 2. the faults: the ERLN simulator's and the sandbox's own
    await new DbErlnSimStore(tx).reset();
    await platform.services.get(FAULTS).clear(tx);
    // 3. the demo data, written by the same loaders as on the first start, inside this transaction
    if (opts.demo) await loadDemo({ ...platform, db: tx });
  });
  platform.services.get(requestJournalKey).clear();
  return { demo: opts.demo };
}
