// What the process started, for the modules that are always loaded (spans,
// app.ts): they must never import the SDK themselves.
import type { Registry } from 'prom-client';

export const telemetry = {
  /** Spans are recorded (the SDK runs with a span exporter). */
  tracing: false,
  /** TRACE_PORTFOLIO_SPANS. */
  portfolioSpans: 0,
  /** The app's prom-client registry, which OTLP metric exports read (the last app built wins). */
  registry: undefined as Registry | undefined,
  /** Sends what is buffered and stops the SDK; undefined when none was started. */
  stop: undefined as (() => Promise<void>) | undefined,
};
