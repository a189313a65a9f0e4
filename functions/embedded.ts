import { mkdirSync } from 'node:fs';
import { startRuntime, type Runtime } from './app.ts';
import { MemoryBus } from './lib/bus/memory.ts';
import type { ModelsConfig } from './lib/config/models.ts';
import type { Settings } from './lib/config/settings.ts';
import type { Logger } from './lib/log.ts';
import type { Telemetry } from './lib/telemetry/index.ts';
import type { ModelClient } from './lib/models/types.ts';
import { createStore, type DescribedStore } from './lib/store/index.ts';

export interface Embedded {
  runtime: Runtime;
  store: DescribedStore;
  bus: MemoryBus;
  model: ModelClient;
  /** Stops the functions, then the bus, the model and the store. */
  close(): Promise<void>;
}

/**
 * The embedded default (`npm start`): all four functions in one process on the in-process bus,
 * with the store the settings name (PGlite in the data folder by default). The model comes last,
 * once the store is open: loading one can take long, and a data folder in use should fail first.
 * @example const app = await startEmbedded({ settings, config, log, model: async () => client })
 */
export async function startEmbedded(opts: { settings: Settings; config: ModelsConfig; log: Logger; model: () => Promise<ModelClient>; telemetry?: Telemetry }): Promise<Embedded> {
  const { settings, config, log } = opts;
  mkdirSync(settings.AIPROC_DATA_DIR, { recursive: true });
  const pglite = !settings.DATABASE_URL && !settings.SUPABASE_URL;
  const store = createStore(settings, log);
  await store.init();
  // PGlite belongs to this process alone: a job left unfinished was cut off by the last stop
  // (its queued work lived in memory). Say so in the job instead of leaving it running forever.
  if (pglite) {
    const orphans = await store.staleJobs(0);
    for (const id of orphans) await store.failJob(id, 'interrupted: aiproc stopped while this job ran');
    if (orphans.length) log.warn({ jobs: orphans.length }, 'failed the jobs a previous run left unfinished');
  }
  const model = await opts.model();
  const bus = new MemoryBus({ log, retryDelayMs: settings.AIPROC_RETRY_DELAY_MS });
  const runtime = await startRuntime({
    settings,
    config,
    log,
    bus,
    store,
    model,
    roles: { splitter: true, merger: true, feedback: true, inference: config.models.map((m) => m.slug) },
    // One process stands for the whole deployment: as many parts per model as its pods would take.
    inferenceConcurrency: (m) => m.scaling.max * m.scaling.concurrency,
    ...(opts.telemetry && { telemetry: opts.telemetry }),
  });
  return {
    runtime,
    store,
    bus,
    model,
    async close() {
      await runtime.close();
      await bus.close();
      await model.close();
      await store.close();
      await opts.telemetry?.shutdown();
    },
  };
}
