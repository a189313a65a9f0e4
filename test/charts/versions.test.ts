import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { OfficialImages } from '../../charts/images.ts';
import { openWebUIEnv } from '../../charts/openwebui-connection.ts';
import { AppVersions } from '../../charts/versions.ts';
import { configWith, ROOT, synthAll } from './support.ts';

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { image?: string; environment?: Record<string, string> }> };
const images = (pred: (image: string) => boolean) => Object.values(compose.services).map((s) => s.image ?? '').filter(pred);

describe('the versions we deploy are the versions we test', () => {
  it('charts pin n8n and OpenWebUI at the versions of charts/versions.ts', () => {
    assert.equal(OfficialImages.n8n, `n8nio/n8n:${AppVersions.n8n}`);
    assert.equal(OfficialImages.openwebui, `ghcr.io/open-webui/open-webui:v${AppVersions.openwebui}`);
    const synthImages = synthAll(configWith()).flatMap((o) => JSON.stringify(o).match(/"image":"[^"]+"/g) ?? []);
    assert.ok(synthImages.includes(`"image":"${OfficialImages.n8n}"`) && synthImages.includes(`"image":"${OfficialImages.openwebui}"`));
    assert.ok(!synthImages.some((i) => /n8nio\/n8n:|open-webui:/.test(i) && !i.includes(AppVersions.n8n) && !i.includes(`v${AppVersions.openwebui}`)), synthImages.join('\n'));
  });

  it('docker-compose.yml runs the same n8n and OpenWebUI images', () => {
    assert.deepEqual([...new Set(images((i) => i.startsWith('n8nio/n8n')))], [OfficialImages.n8n]);
    assert.deepEqual(images((i) => i.includes('open-webui')), [OfficialImages.openwebui]);
  });

  it('the slow suites install exactly these versions (their installers read charts/versions.ts, no pin of their own)', () => {
    const suites = ['test/support/n8n.ts', 'test/support/openwebui.ts', 'test/n8n/workflows.slow.ts', 'test/openwebui/browser.slow.ts'];
    const text = suites.map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
    assert.match(text, /AppVersions\.n8n/);
    assert.match(text, /AppVersions\.openwebui/);
    assert.doesNotMatch(text, /n8n@\d|open-webui==\d|N8N_VERSION = '/);
  });

  it('docker-compose.yml connects OpenWebUI exactly as the charts do (custom headers in OPENAI_API_CONFIGS)', () => {
    const env = compose.services.openwebui!.environment!;
    const want = openWebUIEnv('http://splitter.aiproc.svc.cluster.local/v1');
    for (const [k, v] of Object.entries(want)) assert.deepEqual(k === 'OPENAI_API_CONFIGS' ? JSON.parse(env[k]!) : env[k], k === 'OPENAI_API_CONFIGS' ? JSON.parse(v) : v, k);
    const configs = JSON.parse(want.OPENAI_API_CONFIGS!) as Record<string, { headers: Record<string, string> }>;
    assert.deepEqual(configs['0']!.headers, { 'X-OpenWebUI-Chat-Id': '{{CHAT_ID}}', 'X-OpenWebUI-Message-Id': '{{MESSAGE_ID}}', 'X-OpenWebUI-Task': '{{TASK}}' });
  });

  it("OpenWebUI's key is a gateway key of the splitter, in the charts and in docker-compose.yml (ids from other keys are not kept)", () => {
    const env = compose.services.openwebui!.environment!;
    assert.equal(env.OPENAI_API_KEY, compose.services.splitter!.environment!.AIPROC_GATEWAY_KEYS);
    const objects = synthAll(configWith()).map((o) => JSON.stringify(o));
    const openwebui = objects.find((o) => o.includes('"name":"openwebui"') && o.includes('"kind":"Deployment"'))!;
    assert.match(openwebui, /"name":"OPENAI_API_KEY","valueFrom":\{"secretKeyRef":\{"key":"AIPROC_GATEWAY_KEYS","name":"aiproc-secrets"\}/);
    const splitter = objects.find((o) => o.includes('"name":"splitter"') && o.includes('"kind":"Service"') && o.includes('serving.knative.dev'))!;
    assert.match(splitter, /"name":"AIPROC_GATEWAY_KEYS","valueFrom":\{"secretKeyRef":\{"key":"AIPROC_GATEWAY_KEYS","name":"aiproc-secrets"\}/);
  });
});
