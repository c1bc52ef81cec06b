/**
 * The OpenTelemetry SDK side of Lattice's tracing (`telemetry.ts`): tracer provider, span processor and exporters.
 * Imported only when tracing is configured (`telemetryFromEnv`) or by tests, so a server without an exporter
 * never loads the SDK.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Telemetry } from './telemetry.js';

/**
 * Tracing through `exporter`, for tests (`InMemorySpanExporter`) and `telemetryFromEnv`. The provider is not
 * registered globally (see `telemetry.ts`).
 * @param options.batch export in batches (`BatchSpanProcessor`, `OTEL_BSP_*`), default true; false exports
 *        each span when it ends (`SimpleSpanProcessor`)
 */
export function createTelemetry(exporter: SpanExporter, options: { batch?: boolean } = {}): Telemetry {
  const processor: SpanProcessor = options.batch === false ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  // Later resources win: OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES (envDetector) over the default name.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': 'lattice' }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  return { tracer: provider.getTracer('lattice'), shutdown: () => provider.shutdown() };
}

/**
 * The exporter `tracesExporterFromEnv` named: OTLP/HTTP protobuf (reading `OTEL_EXPORTER_OTLP_*` itself) or the
 * console.
 */
export function createExporter(kind: 'otlp' | 'console'): SpanExporter {
  return kind === 'otlp' ? new OTLPTraceExporter() : new ConsoleSpanExporter();
}
