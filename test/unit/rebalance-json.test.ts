// The model rebalance streams each RebalanceDTO as text written directly: it is the same JSON as the DTO.
import { describe, expect, it } from 'vitest';
import { dec, formatDecimal, formatPlaces, toNumber } from '../../src/domain/decimal.js';
import { JsonBytes } from '../../src/http/json-bytes.js';
import type { PortfolioOutcome } from '../../src/modules/rebalancing/outcome.js';
import { outcomeOf, unvaluedOutcome } from '../../src/modules/rebalancing/outcome.js';
import { type RebalanceDto, rebalanceJson as writeJson } from '../../src/modules/rebalancing/schemas.js';
import { optimize } from '../../src/optimizer/index.js';

const id = (c: string) => c.repeat(24);
// One writer for every piece, reset each time, as the route uses it.
const out = new JsonBytes();
const rebalanceJson = (...args: Parameters<typeof writeJson> extends [unknown, ...infer Rest] ? Rest : never) =>
  writeJson(out.reset(), ...args).bytes.toString('utf8');
/** The reference: the RebalanceDTO as objects (typed by its schema), which JSON.stringify spells. */
function toRebalanceDto(outcome: PortfolioOutcome, rebalanceId: string | null, tradeDate: string): RebalanceDto {
  // An infeasible portfolio is stored with its holdings, but answered with empty lists (api.md).
  const positions = outcome.status === 'infeasible' ? [] : outcome.positions;
  return {
    portfolio_id: outcome.portfolioId,
    portfolio_name: outcome.portfolioName,
    rebalance_id: rebalanceId,
    status: outcome.status,
    ...(outcome.error === null ? {} : { error: outcome.error }),
    ...(outcome.cashFlow === undefined ? {} : { cash_flow: formatDecimal(outcome.cashFlow) }),
    transactions: positions
      .filter((p) => p.trade !== null)
      .map((p) => ({
        transaction_type: p.trade!.type,
        security_id: p.securityId,
        quantity: toNumber(p.trade!.quantity),
        trade_date: tradeDate,
      })),
    drifts: positions.map((p) => ({
      security_id: p.securityId,
      original_quantity: formatDecimal(p.original),
      adjusted_quantity: formatDecimal(p.adjusted),
      target: formatDecimal(p.target),
      high_drift: formatDecimal(p.highDrift),
      low_drift: formatDecimal(p.lowDrift),
      actual: formatPlaces(p.actual!, 4), // every position of a rebalanced portfolio is priced
      ...(p.restriction === undefined ? {} : { restricted: true as const, restriction: p.restriction }),
    })),
  };
}

const position = (securityId: string, target: string) => ({
  securityId,
  target: dec(target),
  lowDrift: dec('0.02'),
  highDrift: dec('0.03'),
});

describe('a RebalanceDTO written as text', () => {
  it('is the JSON of the DTO, for trades, fractions, names with quotes, infeasible and unvalued portfolios', () => {
    const model = [
      position(id('a'), '0.3'),
      position(id('b'), '0.25'),
      { ...position(id('c'), '0.005'), lowDrift: dec('0.001'), highDrift: dec('0.001') },
    ];
    const inputs = [
      {
        cash: dec('10000'),
        securities: [
          { ...model[0]!, quantity: dec('12.5'), price: dec('41.17') },
          { ...model[1]!, quantity: dec('0'), price: dec('7') },
        ],
      },
      { cash: dec('100'), securities: [{ ...model[2]!, quantity: dec('3'), price: dec('1000') }] },
    ];
    for (const [i, input] of inputs.entries()) {
      const outcome = outcomeOf(id('p'), i === 0 ? 'Fund "A" \\ B' : null, input, optimize(input));
      for (const rebalanceId of [null, id('f')]) {
        expect(rebalanceJson(outcome, rebalanceId, '2026-12-02')).toBe(JSON.stringify(toRebalanceDto(outcome, rebalanceId, '2026-12-02')));
      }
    }
    const holdings = { known: true, cash: dec('5'), holdings: [{ securityId: id('a'), quantity: dec('2') }] };
    const unvalued = unvaluedOutcome(id('p'), 'X', 'Security a has no price', holdings, model, new Map());
    expect(rebalanceJson(unvalued, null, '2026-12-02')).toBe(JSON.stringify(toRebalanceDto(unvalued, null, '2026-12-02')));
    expect(outcomeOf(id('p'), null, inputs[1]!, optimize(inputs[1]!)).status).toBe('infeasible');
  });

  it('escapes ids that need it (quotes, backslashes, control characters, lone surrogates) and spells non-ASCII as UTF-8', () => {
    const odd = ['a"b', 'c\\d', 'e\u0001f', 'g\ud800h', 'plain', 'caf\u00e9', 'sn\u2603w', 'pile\u{1f4a9}', 'del\u007f'];
    const input = {
      cash: dec('1000'),
      securities: odd.map((securityId, i) => ({ ...position(securityId, '0.1'), quantity: dec(String(i)), price: dec('10') })),
    };
    const outcome = outcomeOf('p"\\q', 'Fonds \u00e9t\u00e9 \u{1f4c8}', input, optimize(input));
    expect(outcome.status).toBe('ok');
    expect(rebalanceJson(outcome, null, '2026-12-02')).toBe(JSON.stringify(toRebalanceDto(outcome, null, '2026-12-02')));
  });
});
