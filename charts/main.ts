/**
 * The cdk8s app (`cdk8s synth`, see cdk8s.yaml): reads the chart settings and the models config,
 * and writes one file per chart into dist/, numbered in the order to apply them.
 */
import { App } from 'cdk8s';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { loadChartConfig, type ChartConfig } from './config.ts';
import { FunctionsChart } from './functions.ts';
import { GpuChart } from './gpu.ts';
import { MonitoringChart } from './monitoring.ts';
import { PlatformChart } from './platform.ts';
import { UiChart } from './ui.ts';

/** The project root (charts/ sits in it), so synth works from any working directory. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Adds every chart to the app.
 * @example buildCharts(Testing.app(), cfg, ROOT)
 */
export function buildCharts(app: App, cfg: ChartConfig, root: string = ROOT) {
  const platform = new PlatformChart(app, 'aiproc-platform', cfg, root);
  const functions = new FunctionsChart(app, 'aiproc-functions', cfg, platform);
  const ui = new UiChart(app, 'aiproc-ui', cfg, platform, functions, root);
  const gpu = cfg.gpu ? new GpuChart(app, 'aiproc-gpu', cfg) : undefined;
  if (gpu) platform.addDependency(gpu);
  const monitoring = cfg.env.AIPROC_MONITORING ? new MonitoringChart(app, 'aiproc-monitoring', cfg, functions, root) : undefined;
  return { platform, functions, ui, gpu, monitoring };
}

if (import.meta.main) {
  try {
    const app = new App();
    buildCharts(app, loadChartConfig(process.env, ROOT));
    app.synth();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
