import { k8s } from 'cdk8s-plus-34';
import { SECRET_NAME, type SecretKey } from '../secrets.ts';

/**
 * Builds a requests-and-limits writer for one pair of quantity types (cdk8s-plus's for plain
 * Kubernetes objects; the generated ones of a CRD such as Knative's Service).
 * @example const res = quantities(k8s.Quantity.fromString, k8s.Quantity.fromString)
 */
export function quantities<R, L>(request: (v: string) => R, limit: (v: string) => L) {
  return (cpuRequest: string, memoryRequest: string, cpuLimit: string, memoryLimit: string, extraLimits: Record<string, string> = {}) => ({
    requests: { cpu: request(cpuRequest), memory: request(memoryRequest) },
    limits: { cpu: limit(cpuLimit), memory: limit(memoryLimit), ...Object.fromEntries(Object.entries(extraLimits).map(([k, v]) => [k, limit(v)])) },
  });
}

/**
 * Requests and limits, written the way people read them.
 * @example resources('100m', '128Mi', '1', '512Mi')
 */
export const resources: (cpuRequest: string, memoryRequest: string, cpuLimit: string, memoryLimit: string, extraLimits?: Record<string, string>) => k8s.ResourceRequirements =
  quantities(k8s.Quantity.fromString, k8s.Quantity.fromString);

/** An env var read from the aiproc Secret. @example secretEnv('AIPROC_API_KEYS') */
export function secretEnv(key: SecretKey, as: string = key): k8s.EnvVar {
  return { name: as, valueFrom: { secretKeyRef: { name: SECRET_NAME, key } } };
}

/** An env var read from any Secret (e.g. the RabbitMQ operator's default user). */
export function secretRefEnv(name: string, secret: string, key: string): k8s.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** Plain env vars from a record, in a stable order. @example plainEnv({ HOST: '0.0.0.0' }) */
export function plainEnv(values: Readonly<Record<string, string>>): k8s.EnvVar[] {
  return Object.entries(values).map(([name, value]) => ({ name, value }));
}

/** Labels every object carries, so `--down` and `kubectl get -l` find them. */
export const PART_OF = { 'app.kubernetes.io/part-of': 'aiproc' } as const;

/** Standard labels of one component. @example labelsOf('n8n') */
export function labelsOf(name: string): Record<string, string> {
  return { ...PART_OF, 'app.kubernetes.io/name': name };
}
