// What the optimiser takes and gives: exact decimals in, exact decimals out.
import type { Dec } from '../domain/decimal.js';

export interface OptimizerSecurity {
  readonly securityId: string;
  /** Current holding: may be 0, negative (a short) or fractional. */
  readonly quantity: Dec;
  /** Price per share, > 0. */
  readonly price: Dec;
  /** Target weight w (0 for a held security outside the model). */
  readonly target: Dec;
  readonly lowDrift: Dec;
  readonly highDrift: Dec;
  /**
   * A trading restriction (issue 19): no_buy (u' <= u), no_sell (u' >= u) or
   * frozen (u' = u). The band is relaxed to what the rule allows: the whole
   * shares of the band that obey the rule, or when there are none the current
   * holding. A restricted security never makes the problem infeasible.
   */
  readonly restriction?: Restriction;
}

export type Restriction = 'no_buy' | 'no_sell' | 'frozen';

export interface OptimizerInput {
  readonly securities: readonly OptimizerSecurity[];
  readonly cash: Dec;
  /**
   * What is minimised (issue 18): 'drift' (the default, rebalancing.md) or
   * 'trade': the least traded value Σ|u' − u|·p that puts every security in its
   * band within the cash, ties by least drift, then by security id (band.ts).
   */
  readonly objective?: 'drift' | 'trade';
  /** Cash deposited (> 0) or withdrawn (< 0) before valuing: MV' = MV + flow (issue 19). */
  readonly cashFlow?: Dec;
  /** A weight in [0, 1]: the portfolio keeps at least MV'·minCash in cash (Σ u'·p <= MV'·(1 − minCash)). */
  readonly minCash?: Dec;
  /**
   * Money > 0: every trade is zero or worth at least this much (|u' − u|·p >= it),
   * except closing the whole position (no whole shares left, u' = the fraction kept).
   */
  readonly minTradeValue?: Dec;
}

export interface OptimizerOptions {
  /** Budget for the cash-binding search; past it the answer is infeasible (timed out). */
  readonly timeoutMs?: number;
  /** Milliseconds from an arbitrary origin; injected so the optimiser reads no clock of its own. */
  readonly now?: () => number;
}

export interface OptimizedPosition {
  readonly securityId: string;
  readonly price: Dec;
  readonly original: Dec;
  /**
   * The holding after trading: a whole number, or for a fractional holding its
   * fraction plus a whole number (adjusted − original is always whole).
   */
  readonly adjusted: Dec;
  /** The restriction that applied to this security, if any. */
  readonly restriction?: Restriction;
}

export interface InfeasibleSecurity {
  readonly securityId: string;
  readonly price: Dec;
  /** The band in money: MV·(w − l) .. MV·(w + h). */
  readonly bandLow: Dec;
  readonly bandHigh: Dec;
  /** The fraction of the current holding that whole-share orders keep (0 unless it is fractional). */
  readonly fraction: Dec;
  /**
   * Whole shares the band allows beside that fraction:
   * ceil(bandLow / price − fraction) .. floor(bandHigh / price − fraction); min > max
   * (reason band), or a range the minimum trade value leaves empty (reason min_trade).
   */
  readonly minShares: Dec;
  readonly maxShares: Dec;
}

/**
 * band: a band holds no whole number of shares; cash: the bands (and the
 * minimum cash) need more than the market value; overdrawn: MV < 0;
 * withdrawal: the cash flow withdraws more than the portfolio is worth;
 * min_trade: the minimum trade value leaves a security no allowed holding in its band;
 * too_large: a security's holding or band counts more whole shares than can be counted exactly (2^53 − 1);
 * timeout: the solver ran out of time.
 */
export type InfeasibleReason = 'band' | 'cash' | 'overdrawn' | 'withdrawal' | 'min_trade' | 'too_large' | 'timeout';

export type OptimizerResult =
  | {
      readonly status: 'optimal' | 'nothing_to_do';
      readonly marketValue: Dec;
      /** Sorted by security id. */
      readonly positions: readonly OptimizedPosition[];
    }
  | {
      readonly status: 'infeasible';
      readonly reason: InfeasibleReason;
      readonly message: string;
      readonly marketValue: Dec;
      /** The securities whose bands cannot be met (reason 'band'), else empty. */
      readonly securities: readonly InfeasibleSecurity[];
    };
