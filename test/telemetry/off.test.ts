import assert from 'node:assert/strict';
import { registerHooks } from 'node:module';
import { test } from 'node:test';
import { noTelemetry, startTelemetry, tracingWanted } from '../../functions/lib/telemetry/index.ts';

// Every module this process resolves from now on: tracing off must load none of the SDK.
const resolved: string[] = [];
registerHooks({
  resolve(specifier, context, next) {
    resolved.push(specifier);
    return next(specifier, context);
  },
});
const sdkLoaded = () => resolved.filter((s) => /@opentelemetry\/(sdk-trace|exporter-|resources|context-async-hooks)|telemetry\/sdk\.ts/.test(s));

test('with no OTLP endpoint set, no exporter starts and the SDK is never loaded', async () => {
  const env = { OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' };
  assert.equal(tracingWanted(env), false);
  const t = await startTelemetry('aiproc', env);
  assert.equal(t, noTelemetry);
  assert.equal(t.enabled, false);
  assert.deepEqual(sdkLoaded(), []);
});

test('OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none switch tracing off even with an endpoint', async () => {
  assert.equal(await startTelemetry('aiproc', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_SDK_DISABLED: 'true' }), noTelemetry);
  assert.equal(await startTelemetry('aiproc', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_TRACES_EXPORTER: 'none' }), noTelemetry);
  assert.deepEqual(sdkLoaded(), []);
});

test('an endpoint loads the SDK (the check above can see it) and bad settings fail naming the variable', async () => {
  const t = await startTelemetry('aiproc', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
  assert.equal(t.enabled, true);
  await t.shutdown();
  assert.ok(sdkLoaded().length > 0);
  await assert.rejects(startTelemetry('aiproc', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /OTEL_EXPORTER_OTLP_PROTOCOL/);
  await assert.rejects(startTelemetry('aiproc', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_TRACES_SAMPLER: 'sometimes' }), /OTEL_TRACES_SAMPLER/);
  assert.throws(() => tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER/);
});
