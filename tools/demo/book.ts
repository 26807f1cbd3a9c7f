// The demo's book: a few models of 20–60 positions and a few hundred named
// portfolios whose holdings have drifted from their model (some positions
// grown, some shrunk, some missing, a few legacy holdings outside the model,
// now and then a fractional quantity), all from one seed. As in the real
// GlobeCo services: positions sold out long ago stay as rows of quantity 0
// (often of securities that have no price today), and a few portfolios are
// new, with no balances yet.
import { random } from '../random.js';
import type { Book, SimHoldings } from '../simulator/book.js';

export interface DemoPosition {
  readonly security_id: string;
  readonly target: string;
  readonly low_drift: string;
  readonly high_drift: string;
}

export interface DemoModel {
  readonly name: string;
  readonly positions: DemoPosition[];
  readonly portfolios: string[];
}

const MODELS = [
  { name: 'Global Balanced', positions: 40, portfolios: 120, invested: 0.9 },
  { name: 'Growth Equity', positions: 20, portfolios: 100, invested: 0.95 },
  { name: 'Income Plus', positions: 60, portfolios: 80, invested: 0.9 },
] as const;

const FIRST = [
  'Alder',
  'Birch',
  'Cedar',
  'Dunmore',
  'Elm',
  'Fairview',
  'Granite',
  'Harbor',
  'Ivy',
  'Juniper',
  'Kestrel',
  'Linden',
  'Maple',
  'Northgate',
  'Oakridge',
  'Pine',
  'Quarry',
  'Redwood',
  'Summit',
  'Thornbury',
  'Union',
  'Valley',
  'Willow',
  'Yew',
];
const SECOND = ['Family Trust', 'Pension Fund', 'Endowment', 'Foundation', 'Retirement Plan', 'Partners', 'Charitable Trust', 'Holdings'];

/** A 24-character portfolio id that reads as the demo's. */
const portfolioId = (n: number) => `DEMO${String(n).padStart(20, '0')}`;

/** Splits `invested` into `count` targets, each a multiple of 0.005 (in thousandths). */
function targets(count: number, invested: number, rnd: () => number): number[] {
  const steps = Math.round(invested / 0.005);
  const each = Array.from({ length: count }, () => 1);
  for (let left = steps - count; left > 0; left--) each[Math.floor(rnd() * count)]! += 1;
  return each.map((s) => s * 5);
}

/**
 * Lays the demo out in the simulator's book and returns the models to create.
 * Model securities are priced between 5 and 400 so that most bands hold whole
 * shares; a few tight bands on dear securities make the occasional portfolio
 * infeasible, as in real books.
 */
export function layOutDemo(book: Book, seed: number): DemoModel[] {
  const rnd = random(seed);
  const securities = book.securities().filter((s) => {
    const price = Number(book.price(s.ticker));
    return price >= 5 && price <= 400;
  });
  const dear = book.securities().filter((s) => Number(book.price(s.ticker)) > 400);
  const unpriced = book.securities().filter((s) => book.price(s.ticker) === null);
  const priceOf = (securityId: string) => Number(book.price(book.security(securityId)!.ticker));
  const models: DemoModel[] = [];
  let next = 1;
  for (const spec of MODELS) {
    const chosen = [...securities].sort(() => rnd() - 0.5).slice(0, spec.positions);
    const weights = targets(spec.positions, spec.invested, rnd);
    const positions = chosen.map((s, i) => {
      const drift = rnd() < 0.1 ? '0.002' : rnd() < 0.5 ? '0.005' : '0.01';
      return { security_id: s.securityId, target: (weights[i]! / 1000).toFixed(3), low_drift: drift, high_drift: drift };
    });
    const portfolios: string[] = [];
    for (let j = 0; j < spec.portfolios; j++) {
      const id = portfolioId(next++);
      portfolios.push(id);
      book.setPortfolioName(id, `${FIRST[Math.floor(rnd() * FIRST.length)]} ${SECOND[Math.floor(rnd() * SECOND.length)]}`);
      // A new portfolio: named, in the model, no balances yet.
      if (j % 50 === 49) {
        book.setHoldings(id, null);
        continue;
      }
      // Worth 250 000 to 5 000 000; each position drifted by up to ±35%, some sold out.
      const worth = Math.exp(Math.log(250_000) + rnd() * (Math.log(5_000_000) - Math.log(250_000)));
      const held: { securityId: string; quantity: string }[] = [];
      for (const p of positions) {
        if (rnd() < 0.08) continue;
        const shares = (worth * Number(p.target) * (0.65 + rnd() * 0.7)) / priceOf(p.security_id);
        const quantity = rnd() < 0.03 ? shares.toFixed(3) : String(Math.max(0, Math.round(shares)));
        held.push({ securityId: p.security_id, quantity });
      }
      // Legacy holdings the model no longer wants (sold entirely).
      if (rnd() < 0.3 && dear.length > 0) {
        const legacy = dear[Math.floor(rnd() * dear.length)]!;
        held.push({ securityId: legacy.securityId, quantity: String(1 + Math.floor(rnd() * 20)) });
      }
      // Positions closed long ago: zero rows, most of securities without a price today.
      for (let k = Math.floor(rnd() * 4); k > 0 && unpriced.length > 0; k--) {
        const gone = unpriced[Math.floor(rnd() * unpriced.length)]!;
        if (!held.some((h) => h.securityId === gone.securityId)) held.push({ securityId: gone.securityId, quantity: '0' });
      }
      const holdings: SimHoldings = { cash: (worth * (0.02 + rnd() * 0.1)).toFixed(2), securities: held };
      book.setHoldings(id, holdings);
    }
    models.push({ name: spec.name, positions, portfolios });
  }
  return models;
}
