import { AppVersions } from './versions.ts';

/**
 * Every container image the charts reference, in one place: the functions image built from
 * images/ and pinned official images. A test checks that nothing else appears in dist/.
 */

/** Built by the scripts from `images/functions.Dockerfile`; `dev.local` tells Knative not to resolve it in a registry. */
export const FUNCTIONS_REPO = 'dev.local/aiproc-functions';

/** The Dockerfile (under images/) each locally built repository comes from. */
export const BUILT_IMAGES: Readonly<Record<string, string>> = {
  [FUNCTIONS_REPO]: 'images/functions.Dockerfile',
};

/** Official upstream images, pinned. */
export const OfficialImages = {
  ollama: 'ollama/ollama:0.12.6',
  postgres: 'supabase/postgres:15.8.1.060',
  postgrest: 'postgrest/postgrest:v12.2.12',
  gateway: 'nginx:1.29-alpine',
  n8n: `n8nio/n8n:${AppVersions.n8n}`,
  openwebui: `ghcr.io/open-webui/open-webui:v${AppVersions.openwebui}`,
  devicePlugin: 'nvcr.io/nvidia/k8s-device-plugin:v0.17.1',
  /** Only with AIPROC_MONITORING=1. */
  prometheus: 'prom/prometheus:v3.5.0',
  grafana: 'grafana/grafana:12.1.1',
} as const;

/** @example functionsImage('3f2a9c1') // 'dev.local/aiproc-functions:3f2a9c1' */
export function functionsImage(tag: string): string {
  return `${FUNCTIONS_REPO}:${tag}`;
}
