// The resilience policy of every upstream call, composed once per service from
// cockatiel: retry (exponential backoff with jitter, honouring retry-after) ▸
// circuit breaker ▸ bulkhead ▸ per-attempt timeout. Retried and counted by the
// breaker: connection errors, timeouts, 5xx; 429 is retried but, being 4xx,
// not counted; other 4xx are neither. A call we cancelled ourselves (the
// rebalance was aborted) is not the service's failure: neither retried nor counted.
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IBackoffFactory,
  type IRetryBackoffContext,
  retry,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import {
  SERVICE_NAMES,
  type ServiceKey,
  UpstreamAnswerToCheck,
  UpstreamHttpError,
  UpstreamNetworkError,
  UpstreamUnavailableError,
} from './errors.js';

/** The policy's knobs, as configured (`attempts` counts them all: 1 = no retry). */
export type ResilienceSettings = Pick<
  Config['upstreams'],
  'timeoutMs' | 'attempts' | 'backoffMs' | 'maxInFlight' | 'circuitFailureThreshold' | 'circuitResetMs'
> & {
  /** Per-attempt timeout of 'safe-only' calls (order submission: slow by design); `timeoutMs` when absent. */
  readonly writeTimeoutMs?: number;
};

/** 'safe-only' for calls that must not be repeated if they may have taken effect (order submission). */
export type RetryMode = 'idempotent' | 'safe-only';

/** Observes calls, for metrics; every method is optional. */
export interface UpstreamObserver {
  call?(service: ServiceKey, outcome: 'ok' | 'error', ms: number): void;
  retry?(service: ServiceKey): void;
  circuit?(service: ServiceKey, state: CircuitName): void;
}

export type CircuitName = 'closed' | 'open' | 'half_open' | 'isolated';

const circuitNames: Record<CircuitState, CircuitName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Isolated]: 'isolated',
};

export interface ServiceHealth {
  readonly circuit: CircuitName;
  readonly last_error: { readonly message: string; readonly at: string } | null;
}

/** An attempt that outlived its timeout. */
class AttemptTimeoutError extends Error {
  override name = 'AttemptTimeoutError';
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** A call the caller cancelled (its signal aborted): not a failure of the service. */
class CallCancelledError extends Error {
  override name = 'CallCancelledError';
  constructor(cause: unknown) {
    super('the call was cancelled by its caller', { cause });
  }
}

const isTimeout = (error: unknown) => error instanceof AttemptTimeoutError;
const isServerTrouble = (error: unknown) =>
  error instanceof UpstreamNetworkError || isTimeout(error) || (error instanceof UpstreamHttpError && error.status >= 500);
const isRetryable = (error: unknown) => isServerTrouble(error) || (error instanceof UpstreamHttpError && error.status === 429);
/**
 * For calls that must not run twice (order submission): retry only when the
 * service surely did not act: it refused the connection, or answered 503/429.
 */
const isSafeToRetry = (error: unknown) =>
  (error instanceof UpstreamHttpError && (error.status === 503 || error.status === 429)) ||
  (error instanceof UpstreamNetworkError && error.code === 'ECONNREFUSED');

/** Exponential backoff with jitter, but never shorter than a `retry-after` the service asked for. */
const retryAfterBackoff = (inner: IBackoffFactory<unknown>, capMs: number): IBackoffFactory<IRetryBackoffContext<unknown>> => ({
  next(context) {
    const step = inner.next(context);
    const error = 'error' in context.result ? context.result.error : undefined;
    const asked = error instanceof UpstreamHttpError ? error.retryAfterMs : undefined;
    const duration = asked === undefined ? step.duration : Math.min(capMs, Math.max(asked, step.duration));
    return { duration, next: retryAfterBackoff(step, capMs).next };
  },
});

/** Did the last attempt possibly reach the service and act? (Answers with an error status did not, save 5xx other than 503.) */
function mayHaveTakenEffect(error: unknown): boolean {
  if (error instanceof BrokenCircuitError || error instanceof BulkheadRejectedError) return false;
  if (error instanceof UpstreamHttpError) return !error.tookNoEffect && error.status >= 500 && error.status !== 503;
  if (error instanceof UpstreamNetworkError) return error.code !== 'ECONNREFUSED';
  return true;
}

function describeFailure(error: unknown, settings: ResilienceSettings): { reason: string; retryAfterSeconds?: number } {
  if (error instanceof BrokenCircuitError) {
    return {
      reason: `its circuit is open after ${settings.circuitFailureThreshold} consecutive failures`,
      retryAfterSeconds: Math.ceil(settings.circuitResetMs / 1000),
    };
  }
  if (error instanceof BulkheadRejectedError) return { reason: 'too many calls are waiting for it', retryAfterSeconds: 1 };
  if (error instanceof UpstreamHttpError && error.retryAfterMs !== undefined) {
    return { reason: error.message, retryAfterSeconds: Math.ceil(error.retryAfterMs / 1000) };
  }
  if (error instanceof Error) return { reason: error.message };
  return { reason: String(error) };
}

export type ServicePolicy = ReturnType<typeof createServicePolicy>;

export function createServicePolicy(service: ServiceKey, settings: ResilienceSettings, log: Logger, observer: UpstreamObserver = {}) {
  const retryable: Record<RetryMode, (error: unknown) => boolean> = { idempotent: isRetryable, 'safe-only': isSafeToRetry };
  const breaker = circuitBreaker(handleWhen(isServerTrouble), {
    halfOpenAfter: settings.circuitResetMs,
    breaker: new ConsecutiveBreaker(settings.circuitFailureThreshold),
  });
  const limit = bulkhead(settings.maxInFlight, 100_000);
  // Cooperative: the attempt sees its signal abort and says why (timeout, or our own cancellation).
  const timeoutMs: Record<RetryMode, number> = {
    idempotent: settings.timeoutMs,
    'safe-only': settings.writeTimeoutMs ?? settings.timeoutMs,
  };
  // An attempt has read its whole answer when it returns: nothing is left to abort (each abort made an AbortError, stack and all).
  const cooperative = { strategy: TimeoutStrategy.Cooperative, abortOnReturn: false };
  // One breaker and one in-flight bound per service, whatever the retry mode of the call.
  const policyFor = (mode: RetryMode) => {
    const retries = retry(handleWhen(retryable[mode]), {
      maxAttempts: settings.attempts - 1,
      backoff: retryAfterBackoff(new ExponentialBackoff({ initialDelay: settings.backoffMs, maxDelay: 30_000 }), 60_000),
    });
    retries.onRetry((event) => {
      observer.retry?.(service);
      const reason = 'error' in event ? event.error.message : 'unexpected result';
      log.warn({ upstream: service, attempt: event.attempt, delayMs: Math.round(event.delay), reason }, 'retrying upstream call');
    });
    return wrap(retries, breaker, limit, timeout(timeoutMs[mode], cooperative));
  };
  const wrapped = { idempotent: policyFor('idempotent'), 'safe-only': policyFor('safe-only') };

  let lastError: ServiceHealth['last_error'] = null;
  breaker.onStateChange((state) => {
    const name = circuitNames[state];
    observer.circuit?.(service, name);
    const level = state === CircuitState.Closed ? 'info' : 'warn';
    log[level]({ upstream: service, circuit: name }, `${SERVICE_NAMES[service]} circuit ${name.replace('_', '-')}`);
  });

  return {
    /** Runs one logical call (with its retries); failures become UpstreamUnavailableError naming the service. */
    async run<T>(attempt: (signal: AbortSignal) => Promise<T>, describe: string, signal?: AbortSignal, mode: RetryMode = 'idempotent') {
      const started = performance.now();
      try {
        // Without a signal of its own, cockatiel would hang every concurrent call
        // on one shared signal (and warn of a listener leak past ten).
        const value = await wrapped[mode].execute(async ({ signal: attemptSignal }) => {
          try {
            return await attempt(attemptSignal);
          } catch (error) {
            if (signal?.aborted === true) throw new CallCancelledError(error);
            if (attemptSignal.aborted) throw new AttemptTimeoutError(timeoutMs[mode]);
            throw error;
          }
        }, signal ?? new AbortController().signal);
        observer.call?.(service, 'ok', performance.now() - started);
        return value;
      } catch (error) {
        // Cancelled by the caller (here, or waiting for a slot or a probe): the service did nothing wrong.
        if (signal?.aborted === true) throw error instanceof CallCancelledError ? (error.cause ?? error) : error;
        if (error instanceof UpstreamAnswerToCheck) {
          observer.call?.(service, 'ok', performance.now() - started);
          throw error;
        }
        observer.call?.(service, 'error', performance.now() - started);
        if (error instanceof UpstreamUnavailableError) {
          lastError = { message: error.message, at: new Date().toISOString() };
          throw error;
        }
        const { reason, retryAfterSeconds } = describeFailure(error, settings);
        const tries = settings.attempts > 1 && retryable[mode](error) ? ` after ${settings.attempts} attempts` : '';
        const failure = new UpstreamUnavailableError(
          service,
          `${describe}: ${reason}${tries}`,
          retryAfterSeconds,
          mayHaveTakenEffect(error),
        );
        lastError = { message: failure.message, at: new Date().toISOString() };
        throw failure;
      }
    },
    health: (): ServiceHealth => ({ circuit: circuitNames[breaker.state], last_error: lastError }),
  };
}
