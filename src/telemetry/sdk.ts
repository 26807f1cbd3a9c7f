// Starts the OpenTelemetry SDK: loaded by preload.ts only when the
// configuration turns telemetry on, so that a service without OTEL_* set never
// loads it. The exporters, sampler, propagators and resource follow the
// standard OTEL_* variables, read by the SDK itself (docs/telemetry.md).
import { register } from 'node:module';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { MongoDBInstrumentation } from '@opentelemetry/instrumentation-mongodb';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK, resources } from '@opentelemetry/sdk-node';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import type { Config } from '../config.js';
import { SERVICE_VERSION } from '../version.js';
import { promClientProducer } from './prometheus-bridge.js';
import { telemetry } from './state.js';

/** Probes and scrapes are not traced: they would drown the requests that matter. */
const untraced = (path: string | undefined) => path === '/metrics' || path?.startsWith('/health') === true;

/** The OTLP metric exporter for OTEL_EXPORTER_OTLP_(METRICS_)PROTOCOL, as the SDK picks its span exporter. */
const OTLP_METRIC_EXPORTERS = {
  grpc: GrpcMetricExporter,
  'http/json': JsonMetricExporter,
  'http/protobuf': ProtobufMetricExporter,
} as const;

/**
 * Hooks the modules to instrument (ESM imports included: import-in-the-middle,
 * limited to the modules the instrumentations name) and starts the SDK. Must
 * run before the service's modules are imported: preload.ts, with `node --import`.
 */
export async function startTelemetry(settings: Config['telemetry']): Promise<void> {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);

  const metricReaders =
    settings.metrics === 'none'
      ? []
      : [
          new PeriodicExportingMetricReader({
            exporter: settings.metrics === 'console' ? new ConsoleMetricExporter() : new OTLP_METRIC_EXPORTERS[settings.metricsProtocol](),
            exportIntervalMillis: settings.metricIntervalMs,
            exportTimeoutMillis: Math.min(30_000, settings.metricIntervalMs),
            metricProducers: [promClientProducer()],
          }),
        ];
  const sdk = new NodeSDK({
    resource: resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ 'service.name': 'globeco-order-generation-service', 'service.version': SERVICE_VERSION })),
    // 'none': no span processor at all; otherwise the SDK builds the exporter OTEL_TRACES_EXPORTER names.
    ...(settings.traces === 'none' ? { spanProcessors: [] } : {}),
    metricReaders,
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => untraced(request.url?.split('?')[0]) }),
      // A span for the request and its handler, not one per hook (about ten per request here).
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        instrumentHooks: false,
        ignorePaths: (route) => untraced(route.url),
      }),
      new UndiciInstrumentation(),
      new MongoDBInstrumentation(),
      // trace_id, span_id and trace_flags in every log line written inside a span; logs stay on stdout.
      new PinoInstrumentation({ disableLogSending: true }),
    ],
  });
  sdk.start();
  await waitForAllMessagesAcknowledged();
  telemetry.tracing = settings.traces !== 'none';
  telemetry.portfolioSpans = settings.portfolioSpans;
  telemetry.stop = async () => {
    telemetry.stop = undefined;
    telemetry.tracing = false;
    await sdk.shutdown();
  };
}
