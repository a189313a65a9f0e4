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
