/**
 * Prints a fresh `aiproc-secrets` Secret as JSON on stdout, for `kubectl apply -f -`.
 * The scripts run it only when the Secret does not exist yet, so re-runs keep the values.
 * With `--missing`, reads the existing Secret (`kubectl get secret -o json`) on stdin and prints a
 * merge patch adding only the keys it lacks (nothing when none): a cluster set up by an older
 * release gets the new keys, and keeps every value it has.
 * Env: AIPROC_NAMESPACE (default aiproc); SUPABASE_SERVICE_ROLE_KEY for an external Supabase.
 */
import { readFileSync } from 'node:fs';
import { generateSecretValues, missingSecretPatch, secretManifest } from './secrets.ts';

if (process.argv.includes('--missing')) {
  const patch = missingSecretPatch(JSON.parse(readFileSync(0, 'utf8')) as { data?: Record<string, string> });
  if (patch) process.stdout.write(`${JSON.stringify(patch)}\n`);
  process.exit(0);
}

const namespace = process.env.AIPROC_NAMESPACE || 'aiproc';
const external = process.env.SUPABASE_SERVICE_ROLE_KEY ? { serviceRoleKey: process.env.SUPABASE_SERVICE_ROLE_KEY } : undefined;
process.stdout.write(`${JSON.stringify(secretManifest(namespace, generateSecretValues(external)), null, 2)}\n`);
