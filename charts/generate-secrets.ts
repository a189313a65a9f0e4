/**
 * Prints a fresh `aiproc-secrets` Secret as JSON on stdout, for `kubectl apply -f -`.
 * The scripts run it only when the Secret does not exist yet, so re-runs keep the values.
 * Env: AIPROC_NAMESPACE (default aiproc); SUPABASE_SERVICE_ROLE_KEY for an external Supabase.
 */
import { generateSecretValues, secretManifest } from './secrets.ts';

const namespace = process.env.AIPROC_NAMESPACE || 'aiproc';
const external = process.env.SUPABASE_SERVICE_ROLE_KEY ? { serviceRoleKey: process.env.SUPABASE_SERVICE_ROLE_KEY } : undefined;
process.stdout.write(`${JSON.stringify(secretManifest(namespace, generateSecretValues(external)), null, 2)}\n`);
