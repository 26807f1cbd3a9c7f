// Rebalances as the Python service (kasbench/globeco-order-generation-service,
// src/models/rebalance.py: Beanie RebalanceDocument) writes them: one document
// in `rebalances`, portfolios and their positions embedded, figures Decimal128,
// trade_quantity an int, trade_date a datetime (or null without a trade).
import { Decimal128, type Document, ObjectId } from 'mongodb';
import { pid, sid } from './fixtures.js';

const d = (text: string) => Decimal128.fromString(text);

export interface LegacyOptions {
  readonly portfolios: number;
  readonly positions?: number;
  readonly seed?: number;
  readonly date?: Date;
}

/** quantity × (whole + 0.1700), written with four places. */
function times(quantity: number, whole: number): string {
  const tenThousandths = BigInt(quantity) * BigInt(whole * 10_000 + 1700);
  return `${tenThousandths / 10_000n}.${String(tenThousandths % 10_000n).padStart(4, '0')}`;
}

/** A legacy document with `portfolios` portfolios of `positions` positions, figures with trailing zeros and many digits. */
export function legacyRebalance(options: LegacyOptions): Document {
  const date = options.date ?? new Date('2025-06-30T14:05:09.123Z');
  const tradeDate = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const seed = options.seed ?? 1;
  const positions = options.positions ?? 3;
  return {
    _id: new ObjectId(),
    model_id: new ObjectId(),
    rebalance_date: date,
    model_name: `Legacy model ${seed}`,
    number_of_portfolios: options.portfolios,
    portfolios: Array.from({ length: options.portfolios }, (_, i) => ({
      portfolio_id: pid(seed * 100_000 + i),
      market_value: d(`${100000 + i}.${String(seed).padStart(2, '0')}`),
      cash_before_rebalance: d('5000.00'),
      cash_after_rebalance: d(`${1234 + i}.5678901234567890123456789`),
      positions: Array.from({ length: positions }, (_, j) => {
        const trade = j % 3 === 0 ? null : j % 3 === 1 ? 'BUY' : 'SELL';
        return {
          security_id: sid(j + 1),
          price: d(`${10 + j}.1700`),
          original_quantity: d(`${100 + i}`),
          adjusted_quantity: d(trade === null ? `${100 + i}` : trade === 'BUY' ? `${110 + i}` : `${90 + i}`),
          // As Python's Decimal multiplies: quantity × price, the price's four places kept.
          original_position_market_value: d(times(100 + i, 10 + j)),
          adjusted_position_market_value: d(times(trade === null ? 100 + i : trade === 'BUY' ? 110 + i : 90 + i, 10 + j)),
          target: d('0.300'),
          high_drift: d('0.05'),
          low_drift: d('0.0250'),
          actual: d('0.2971'),
          actual_drift: d('0.009666666666666666666666666666666667'),
          transaction_type: trade,
          trade_quantity: trade === null ? null : 10,
          trade_date: trade === null ? null : tradeDate,
        };
      }),
    })),
    version: 1,
    created_at: date,
  };
}
