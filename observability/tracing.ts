/**
 * OpenTelemetry traces of a worker process, off unless the standard OTEL_* variables ask for them:
 * one trace links a run's workflow, its activities and the destination HTTP calls they make.
 *
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318   # or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
 *   OTEL_TRACES_EXPORTER=otlp|console                   # (none, or OTEL_SDK_DISABLED=true: off)
 *   OTEL_SERVICE_NAME=ebb-worker  OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod
 *
 * Temporal's interceptors (@temporalio/interceptors-opentelemetry) make the spans of workflows
 * (exported through a sink, since workflow code cannot do I/O), of activities, and carry the
 * context across them in Temporal headers; http-metrics.ts adds a span per destination request
 * inside the activity's. Spans carry ids, names and status codes, never a row value or a record
 * key: HTTP spans name the method and host, not the path (a Salesforce upsert's path holds the key).
 *
 * Spans go over OTLP/HTTP with JSON bodies (what @opentelemetry/exporter-trace-otlp-http sends;
 * collectors accept it on port 4318), batched (OTEL_BSP_* tune the batches).
 */
import * as otel from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { ignoreRequestsTo } from './http-metrics';

export interface Tracing {
  readonly tracer: otel.Tracer;
  /** Outermost activity interceptors: each activity runs in a span joined to its workflow's trace. */
  readonly activityInterceptors: ActivityInterceptorsFactory[];
  /** The workflow interceptor module, bundled with the workflow code. */
  readonly workflowModules: string[];
  /** Where workflow spans leave the sandbox. */
  readonly sinks: InjectedSinks<never>;
  /** Sends the spans still batched (a worker set calls it when it stops). */
  forceFlush(): Promise<void>;
}

/** A variable set and not blank. */
const given = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/** Whether the OTEL_* variables ask for traces. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = env.OTEL_TRACES_EXPORTER?.split(',').map((e) => e.trim().toLowerCase());
  if (exporters?.includes('none')) return false;
  return (
    Boolean(exporters?.some((e) => e !== '')) ||
    given(env.OTEL_EXPORTER_OTLP_ENDPOINT) ||
    given(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  );
}

export class TracingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

function exportersFromEnv(env: NodeJS.ProcessEnv): SpanExporter[] {
  const names = (env.OTEL_TRACES_EXPORTER ?? 'otlp')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  return (names.length ? names : ['otlp']).map((name) => {
    if (name === 'otlp') return new OTLPTraceExporter();
    if (name === 'console') return new ConsoleSpanExporter();
    throw new TracingConfigError(
      `OTEL_TRACES_EXPORTER=${env.OTEL_TRACES_EXPORTER}: ebb exports traces with otlp (OTLP over HTTP, JSON) or console; unset it or use one of those`,
    );
  });
}

/** The OTLP endpoint's host: the exporter's own requests are not destination calls. */
function otlpHost(env: NodeJS.ProcessEnv): string {
  const url = given(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    ? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    : given(env.OTEL_EXPORTER_OTLP_ENDPOINT)
      ? env.OTEL_EXPORTER_OTLP_ENDPOINT
      : 'http://localhost:4318';
  try {
    return new URL(url).host;
  } catch {
    throw new TracingConfigError(`OTEL_EXPORTER_OTLP_ENDPOINT is not a URL: ${url}`);
  }
}

let installed: Tracing | null | undefined;

/**
 * The process's tracing, set up from the environment on the first call (null when off). Later calls
 * return the same: the context manager and propagator it installs are process-wide.
 */
export function processTracing(env: NodeJS.ProcessEnv = process.env): Tracing | null {
  if (installed !== undefined) return installed;
  if (!tracingRequested(env)) return (installed = null);
  const processors = exportersFromEnv(env).map((exporter): SpanProcessor => new BatchSpanProcessor(exporter));
  ignoreRequestsTo(otlpHost(env));
  const resource = Resource.default()
    .merge(new Resource({ [ATTR_SERVICE_NAME]: 'ebb-worker' }))
    .merge(envDetectorSync.detect());
  const provider = new BasicTracerProvider({ resource, spanProcessors: processors });
  // Activity spans find their workflow's context in Temporal headers (W3C trace context, the
  // default propagator), and HTTP spans find their activity's through async context.
  provider.register({ contextManager: new AsyncLocalStorageContextManager() });
  const tracer = provider.getTracer('ebb');
  const processor: SpanProcessor = {
    onStart: (span, context) => processors.forEach((p) => p.onStart(span, context)),
    onEnd: (span) => processors.forEach((p) => p.onEnd(span)),
    forceFlush: async () => void (await Promise.all(processors.map((p) => p.forceFlush()))),
    shutdown: async () => void (await Promise.all(processors.map((p) => p.shutdown()))),
  };
  installed = {
    tracer,
    activityInterceptors: [
      (ctx) => ({
        inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
    ],
    workflowModules: [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
    sinks: { exporter: makeWorkflowExporter(processor, resource) } as InjectedSinks<never>,
    forceFlush: () => provider.forceFlush(),
  };
  return installed;
}
