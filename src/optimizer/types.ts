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
}

export interface OptimizerInput {
  readonly securities: readonly OptimizerSecurity[];
  readonly cash: Dec;
  /**
   * What is minimised (issue 18): 'drift' (the default, rebalancing.md) or
   * 'trade': the least traded value Σ|u' − u|·p that puts every security in its
   * band within the cash, ties by least drift, then by security id (band.ts).
   */
  readonly objective?: 'drift' | 'trade';
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
   * ceil(bandLow / price − fraction) .. floor(bandHigh / price − fraction); min > max.
   */
  readonly minShares: Dec;
  readonly maxShares: Dec;
}

export type InfeasibleReason = 'band' | 'cash' | 'overdrawn' | 'timeout';

export type OptimizerResult =
  | {
      readonly status: 'optimal';
      readonly marketValue: Dec;
      /** Sorted by security id. */
      readonly positions: readonly OptimizedPosition[];
    }
  | { readonly status: 'nothing_to_do'; readonly marketValue: Dec; readonly positions: readonly OptimizedPosition[] }
  | {
      readonly status: 'infeasible';
      readonly reason: InfeasibleReason;
      readonly message: string;
      readonly marketValue: Dec;
      /** The securities whose bands cannot be met (reason 'band'), else empty. */
      readonly securities: readonly InfeasibleSecurity[];
    };
