// What can go wrong talking to a GlobeCo service, named so a user can act on it.
import { AppError, PortfolioCannotBeValued } from '../domain/errors.js';

export type ServiceKey = 'accounting' | 'security' | 'pricing' | 'portfolio' | 'order';

export const SERVICE_NAMES: Record<ServiceKey, string> = {
  accounting: 'Portfolio Accounting',
  security: 'Security',
  pricing: 'Pricing',
  portfolio: 'Portfolio',
  order: 'Order',
};

/** retry-after of a 503 when the service said nothing and no circuit is open (api.md: always with retry-after). */
export const UPSTREAM_RETRY_AFTER_S = 5;

/** A required upstream failed after retries, answered nonsense, or its circuit is open: 503. */
export class UpstreamUnavailableError extends AppError {
  constructor(
    readonly service: ServiceKey,
    reason: string,
    retryAfterSeconds: number = UPSTREAM_RETRY_AFTER_S,
    /**
     * Whether the call may still have taken effect (it timed out, the connection
     * broke after sending, or the service answered but not as expected): what
     * order submission needs to know to never send an order twice.
     */
    readonly mayHaveTakenEffect = true,
  ) {
    super(503, 'UPSTREAM_UNAVAILABLE', `The ${SERVICE_NAMES[service]} service is unavailable: ${reason}`, [], retryAfterSeconds);
  }
}

/** One HTTP exchange that did not succeed (kept internal; the policy decides what it means). */
export class UpstreamHttpError extends Error {
  override name = 'UpstreamHttpError';
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
    detail: string,
    /** The body as sent (JSON when it parsed, else text). */
    readonly body: unknown,
  ) {
    super(`answered ${status}${detail === '' ? '' : ` (${detail})`}`);
  }
  /** Set by a client that can tell from the body that the call surely did nothing (an Order service 500 with nothing taken). */
  tookNoEffect = false;
}

/**
 * A status the caller asked to look into itself (an Accounting summary's 500
 * may mean "no balances yet"): neither retried nor counted by the circuit, nor
 * a success that resets it; the client decides what it means.
 */
export class UpstreamAnswerToCheck extends Error {
  override name = 'UpstreamAnswerToCheck';
  constructor(status: number) {
    super(`answered ${status}`);
  }
}

/** The connection failed: refused, reset, dropped before an answer. */
export class UpstreamNetworkError extends Error {
  override name = 'UpstreamNetworkError';
  readonly code: string | undefined;
  constructor(cause: unknown) {
    const code = (cause as { code?: string } | undefined)?.code;
    super(`the connection failed (${code ?? (cause instanceof Error ? cause.message : String(cause))})`);
    this.code = code;
  }
}

/** A security the Security service does not know: the portfolio cannot be valued (422 for one portfolio). */
export class UnknownSecurityError extends PortfolioCannotBeValued {
  constructor(
    readonly securityId: string,
    why = 'is unknown to the Security service',
  ) {
    super(`Security ${securityId} ${why}, so the portfolio cannot be valued`);
  }
}

/** No usable price for a ticker: the portfolio cannot be valued. */
export class MissingPriceError extends PortfolioCannotBeValued {
  constructor(
    readonly securityId: string,
    readonly ticker: string,
    why: string,
  ) {
    super(`Security ${securityId} (${ticker}) ${why}, so the portfolio cannot be valued`);
  }
}
