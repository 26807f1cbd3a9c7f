// The service's own spans (rebalance, portfolio, solve). Without a started SDK
// every helper calls straight through: no span objects, no context switches.
import { type Attributes, context, SpanStatusCode, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { SERVICE_VERSION } from '../version.js';
import { telemetry } from './state.js';

const tracer = trace.getTracer('globeco-order-generation-service', SERVICE_VERSION);

/** Runs `fn` in a span of its own; `outcome` adds attributes from what it returned. */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: () => Promise<T>,
  outcome?: (result: T) => Attributes,
): Promise<T> {
  if (!telemetry.tracing) return fn();
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      const result = await fn();
      if (outcome !== undefined) span.setAttributes(outcome(result));
      return result;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      span.recordException(failure);
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * One portfolio of a rebalance. Only the first TRACE_PORTFOLIO_SPANS of a
 * rebalance get a span; the others run with tracing suppressed, so that a
 * 10 000-portfolio rebalance sends a bounded trace (the rebalance span still
 * says how many portfolios there were) instead of ~100 000 spans a collector drops.
 */
export function withPortfolioSpan<T>(
  seq: number,
  attributes: Attributes,
  fn: () => Promise<T>,
  outcome?: (result: T) => Attributes,
): Promise<T> {
  if (!telemetry.tracing) return fn();
  if (seq >= telemetry.portfolioSpans) return context.with(suppressTracing(context.active()), fn);
  return withSpan('rebalance.portfolio', { 'rebalance.portfolio.seq': seq, ...attributes }, fn, outcome);
}
