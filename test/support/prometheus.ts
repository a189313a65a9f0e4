import parsePrometheusTextFormat from 'parse-prometheus-text-format';

interface Sample {
  labels?: Record<string, string>;
  value?: string;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Sample[];
}

export interface Scrape {
  /** The families as the parser reads them (name, help, type). */
  families: MetricFamily[];
  /** Every series by its own name (`x_bucket`, `x_count`, `x_sum` apart), for reading values. */
  series: MetricFamily[];
}

/**
 * Fetches `GET /metrics` and parses it with a Prometheus text-format parser (a port of the
 * Prometheus Python client's, which throws on a line it cannot read); fails on a wrong status
 * or content type. The parser folds a labelled histogram's series into one, so values are read
 * from a second parse of the same text without the histogram TYPE lines: each series on its own.
 * @example const m = await scrape(app.url); value(m, 'aiproc_jobs_started_total', { model: 'aiproc' })
 */
export async function scrape(baseUrl: string): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${await res.text()}`);
  const type = res.headers.get('content-type') ?? '';
  if (!/^text\/plain; version=0\.0\.4/.test(type)) throw new Error(`GET /metrics content-type is "${type}", not the Prometheus text format`);
  const text = await res.text();
  return {
    families: parsePrometheusTextFormat(text) as MetricFamily[],
    series: parsePrometheusTextFormat(text.replace(/^# TYPE \S+ histogram$/gm, '')) as MetricFamily[],
  };
}

const matches = (s: Sample, labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v);

/** The sum of a series' samples whose labels include `labels` (0 when none). */
export function value(m: Scrape, name: string, labels: Record<string, string> = {}): number {
  // Without its TYPE line a histogram reads as one family per run of lines: take every one of that name.
  const samples = m.series.filter((x) => x.name === name).flatMap((f) => f.metrics);
  return samples.filter((s) => matches(s, labels)).reduce((n, s) => n + Number(s.value ?? 0), 0);
}

/** How many observations a histogram holds over its series whose labels include `labels`. */
export function count(m: Scrape, name: string, labels: Record<string, string> = {}): number {
  return value(m, `${name}_count`, labels);
}
