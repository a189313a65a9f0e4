import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SECRET_NAME, SecretKeys } from '../../charts/secrets.ts';
import { configWith, idOf, synthAll } from './support.ts';

const objects = synthAll(configWith());
const ksvcs = objects.filter((o) => o.apiVersion === 'serving.knative.dev/v1' && o.kind === 'Service');
const envOf = (o: (typeof objects)[number]) => (o.spec.template.spec.containers as Array<{ name: string; env?: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }> }>).find((c) => c.name === 'function')!.env ?? [];
const fromSecret = (o: (typeof objects)[number], key: string) => envOf(o).some((e) => e.name === key && e.valueFrom?.secretKeyRef?.name === SECRET_NAME && e.valueFrom.secretKeyRef.key === key);

describe('the charts give the functions their credentials', () => {
  it('every function gets the event keys from the Secret (they sign and verify the events between them)', () => {
    // GIVEN every Knative Service (splitter, merger, feedback, one inference per model)
    assert.ok(ksvcs.length >= 4);
    // THEN each reads AIPROC_EVENT_KEYS from the aiproc Secret
    for (const k of ksvcs) assert.ok(fromSecret(k, SecretKeys.eventKeys), `${idOf(k)}: no AIPROC_EVENT_KEYS`);
  });

  it('the splitter knows the user, admin and gateway keys; the feedback function its senders', () => {
    const splitter = ksvcs.find((k) => k.metadata.name === 'splitter')!;
    for (const key of [SecretKeys.apiKeys, SecretKeys.adminKeys, SecretKeys.gatewayKeys, SecretKeys.feedbackTokens]) assert.ok(fromSecret(splitter, key), key);
    const feedback = ksvcs.find((k) => k.metadata.name === 'feedback')!;
    for (const key of [SecretKeys.feedbackTokens, SecretKeys.webhookSecrets]) assert.ok(fromSecret(feedback, key), key);
  });
});

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> };
const matches = (sel: Selector, labels: Record<string, string>) =>
  Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
  (sel.matchExpressions ?? []).every((e) => (e.operator === 'In' ? e.values!.includes(labels[e.key]!) : e.operator === 'Exists' ? e.key in labels : false));

/** Every pod template of the namespace, with its labels and the ports its containers listen on. */
function podsOf(objs: typeof objects) {
  return objs.flatMap((o) => {
    const isPod = o.apiVersion === 'serving.knative.dev/v1' || ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(o.kind);
    if (!isPod || o.metadata.namespace !== 'aiproc') return [];
    const t = o.spec.template;
    const ports = (t.spec.containers as Array<{ ports?: Array<{ containerPort: number }> }>).flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
    return [{ id: idOf(o), labels: t.metadata.labels as Record<string, string>, ports }];
  });
}

describe('the network: default-deny, then only what each part needs', () => {
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const allows = policies.filter((p) => Object.keys(p.spec.podSelector).length > 0);

  it('denies every ingress in the namespace by default', () => {
    const deny = policies.filter((p) => Object.keys(p.spec.podSelector).length === 0);
    assert.equal(deny.length, 1);
    assert.deepEqual({ policyTypes: deny[0]!.spec.policyTypes, ingress: deny[0]!.spec.ingress }, { policyTypes: ['Ingress'], ingress: [] });
    assert.ok(policies.every((p) => p.metadata.namespace === 'aiproc'));
  });

  it('every pod is selected by a policy, and every port a pod listens on is allowed from somewhere by name', () => {
    const pods = podsOf(objects);
    assert.ok(pods.length >= 8);
    for (const pod of pods) {
      const mine = allows.filter((p) => matches(p.spec.podSelector, pod.labels));
      for (const port of pod.ports) {
        const open = mine.some((p) => (p.spec.ingress as Array<{ ports?: Array<{ port: number }> }>).some((r) => !r.ports || r.ports.some((x) => x.port === port)));
        assert.ok(open, `${pod.id}: nothing may reach port ${port}`);
      }
      // A pod with no port (the migration Job) takes no connection at all: only the default deny selects it.
      if (pod.ports.length === 0) assert.deepEqual(mine.map((p) => p.metadata.name), [], pod.id);
    }
  });

  it('the functions take connections from Knative\'s data plane only; Ollama from the functions only', () => {
    const fn = { 'app.kubernetes.io/part-of': 'aiproc', 'app.kubernetes.io/name': 'merger' };
    const rules = allows.filter((p) => matches(p.spec.podSelector, fn)).flatMap((p) => p.spec.ingress as Array<{ from: unknown[]; ports?: unknown[] }>);
    assert.deepEqual(rules, [
      { from: [
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'knative-serving' } } },
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kourier-system' } } },
      ] },
      // Prometheus (AIPROC_MONITORING) reads /metrics on the function's port, nothing else.
      { from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus', 'app.kubernetes.io/part-of': 'aiproc' } } }], ports: [{ protocol: 'TCP', port: 8080 }] },
    ]);
    const ollama = allows.find((p) => p.metadata.name === 'aiproc-ollama-from-functions')!;
    assert.deepEqual(ollama.spec.ingress[0].ports, [{ protocol: 'TCP', port: 11434 }]);
    const from = ollama.spec.ingress[0].from.map((f: { podSelector: Selector }) => f.podSelector);
    assert.ok(from.some((s: Selector) => matches(s, { ...fn, 'app.kubernetes.io/name': 'splitter' })));
    for (const who of ['openwebui', 'n8n']) assert.ok(!from.some((s: Selector) => matches(s, { 'app.kubernetes.io/part-of': 'aiproc', 'app.kubernetes.io/name': who })), `${who} cannot reach a model server`);
  });

  it('Postgres and PostgREST take connections from the functions and n8n (and their own Supabase pieces), not OpenWebUI', () => {
    for (const name of ['supabase-db', 'postgrest']) {
      const p = allows.find((x) => matches(x.spec.podSelector, { 'app.kubernetes.io/part-of': 'aiproc', 'app.kubernetes.io/name': name }))!;
      const from = p.spec.ingress.flatMap((r: { from: Array<{ podSelector: Selector }> }) => r.from.map((f) => f.podSelector));
      for (const who of ['splitter', 'inference', 'n8n']) assert.ok(from.some((s: Selector) => matches(s, { 'app.kubernetes.io/part-of': 'aiproc', 'app.kubernetes.io/name': who })), `${name} from ${who}`);
      assert.ok(!from.some((s: Selector) => matches(s, { 'app.kubernetes.io/part-of': 'aiproc', 'app.kubernetes.io/name': 'openwebui' })), `${name} not from openwebui`);
    }
  });

  it('no Service is a LoadBalancer unless AIPROC_EXPOSE_UI is set (monitoring or not); then OpenWebUI, n8n and Grafana are', () => {
    const lbs = (objs: typeof objects) => objs.filter((o) => o.kind === 'Service' && o.apiVersion === 'v1' && o.spec.type === 'LoadBalancer').map((o) => o.metadata.name).sort();
    assert.deepEqual(lbs(objects), []);
    assert.deepEqual(lbs(synthAll(configWith({ AIPROC_MONITORING: 'true' }))), []);
    assert.deepEqual(lbs(synthAll(configWith({ AIPROC_EXPOSE_UI: 'true', AIPROC_MONITORING: 'true' }))), ['grafana', 'n8n', 'openwebui']);
  });

  it('with monitoring on too, every pod that listens is reachable from a named peer', () => {
    const withMonitoring = synthAll(configWith({ AIPROC_MONITORING: 'true' }));
    const nps = withMonitoring.filter((o) => o.kind === 'NetworkPolicy' && Object.keys(o.spec.podSelector).length > 0);
    for (const pod of podsOf(withMonitoring)) {
      for (const port of pod.ports) {
        const open = nps.filter((p) => matches(p.spec.podSelector, pod.labels)).some((p) => (p.spec.ingress as Array<{ ports?: Array<{ port: number }> }>).some((r) => !r.ports || r.ports.some((x) => x.port === port)));
        // Grafana is for people, who come through port-forward: no pod needs to reach it.
        if (pod.labels['app.kubernetes.io/name'] !== 'grafana') assert.ok(open, `${pod.id}: nothing may reach port ${port}`);
      }
    }
  });
});

describe('OpenWebUI talks to aiproc as a gateway', () => {
  it('its OPENAI_API_KEY is the gateway key (only a gateway may name its end user), in the charts and in compose', async () => {
    const web = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'openwebui')!;
    const key = (web.spec.template.spec.containers[0].env as Array<{ name: string; valueFrom?: { secretKeyRef?: { key: string } } }>).find((e) => e.name === 'OPENAI_API_KEY');
    assert.equal(key?.valueFrom?.secretKeyRef?.key, SecretKeys.gatewayKeys);
    const { readFileSync } = await import('node:fs');
    const { parse } = await import('yaml');
    const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'));
    assert.equal(compose.services.openwebui.environment.OPENAI_API_KEY, compose.services.splitter.environment.AIPROC_GATEWAY_KEYS);
  });
});
