// The simulated GlobeCo book: securities with tickers and prices, portfolios
// with names, holdings and cash. Generated from a seed (the same seed, the same
// book, at any scale) and computed lazily per portfolio, so 10 000 portfolios
// of 100 holdings cost no memory until asked; anything set explicitly overrides it.
// Realistic by default (upstreams.md): about 40% of the securities have no
// price, every portfolio keeps rows of positions it sold out long ago
// (quantity 0, often of unpriced securities), and a few portfolios are new
// (known to the Portfolio service, without balances in Portfolio Accounting).
import { random } from '../random.js';

export interface BookSize {
  readonly seed: number;
  readonly securities: number;
  readonly portfolios: number;
  /** Open positions per generated portfolio (closed ones come on top). */
  readonly holdings: number;
}

/** How far the generated book looks like the real one (the defaults are realistic). */
export interface BookRealism {
  /** Share of securities with no price (the Pricing service loads one date). */
  readonly unpricedShare: number;
  /** Closed positions (quantity 0) per portfolio, as a share of its open ones. */
  readonly closedShare: number;
  /** Share of portfolios that are new: no balances in Portfolio Accounting yet. */
  readonly newPortfolioShare: number;
}

export const REALISTIC: BookRealism = { unpricedShare: 0.4, closedShare: 0.25, newPortfolioShare: 0.05 };

export interface SimSecurity {
  readonly securityId: string;
  readonly ticker: string;
  readonly description: string;
  /** A security whose type is missing: the Security service's list fails whole (400). */
  readonly typeMissing?: boolean;
}

export interface SimHoldings {
  /** Decimal strings, as the accounting service sends them. */
  readonly cash: string;
  readonly securities: readonly { readonly securityId: string; readonly quantity: string }[];
}

/** A 24-hex id, unique per (kind, index) and stable for a seed. */
function hexId(seed: number, kind: number, index: number): string {
  const rnd = random((seed * 2654435761) ^ (kind * 40503) ^ 0x5bd1e995);
  const head = Array.from({ length: 2 }, () =>
    Math.floor(rnd() * 2 ** 32)
      .toString(16)
      .padStart(8, '0'),
  ).join('');
  return `${head}${index.toString(16).padStart(8, '0')}`;
}

/** AAA, AAB, ... : three letters or more, unique per index. */
function tickerFor(index: number): string {
  let n = index;
  let out = '';
  for (let place = 0; place < 3 || n > 0; place++) {
    out = String.fromCharCode(65 + (n % 26)) + out;
    n = Math.floor(n / 26);
  }
  return out;
}

export const DEFAULT_SIZE: BookSize = { seed: 42, securities: 500, portfolios: 200, holdings: 20 };

export function createBook(initial: BookSize = DEFAULT_SIZE, realism: BookRealism = REALISTIC) {
  let size = initial;
  let priced: number[] = [];
  let securityIndex = new Map<string, number>();
  let portfolioIndex = new Map<string, number>();
  let tickerIndex = new Map<string, number>();
  const securityOverrides = new Map<string, SimSecurity | null>();
  const priceOverrides = new Map<string, string | null>();
  const holdingOverrides = new Map<string, SimHoldings | null>();
  const nameOverrides = new Map<string, string>();

  const securityId = (i: number) => hexId(size.seed, 1, i);
  const portfolioId = (j: number) => hexId(size.seed, 2, j);

  function index(): void {
    securityIndex = new Map(Array.from({ length: size.securities }, (_, i) => [securityId(i), i]));
    portfolioIndex = new Map(Array.from({ length: size.portfolios }, (_, j) => [portfolioId(j), j]));
    tickerIndex = new Map(Array.from({ length: size.securities }, (_, i) => [tickerFor(i), i]));
    priced = Array.from({ length: size.securities }, (_, i) => i).filter((i) => !unpriced(i));
  }
  /** Whether generated security i has no price (a fixed draw per seed and index). */
  function unpriced(i: number): boolean {
    return random(size.seed * 131 + i * 17 + 5)() < realism.unpricedShare;
  }
  /** Whether generated portfolio j is new (no balances yet). */
  function isNew(j: number): boolean {
    return random(size.seed * 257 + j * 29 + 1)() < realism.newPortfolioShare;
  }
  index();

  const generatedPrice = (i: number): string | null => {
    if (unpriced(i)) return null;
    const rnd = random(size.seed * 31 + i * 7 + 11);
    // Log-uniform between 0.5 and 5 000, cents.
    return Math.exp(Math.log(0.5) + rnd() * (Math.log(5000) - Math.log(0.5))).toFixed(2);
  };

  function generatedHoldings(j: number): SimHoldings | null {
    if (isNew(j)) return null;
    const rnd = random(size.seed * 7919 + j * 104729 + 3);
    const chosen = new Set<number>();
    // Open positions are priced securities; closed ones (quantity 0) any security.
    const count = Math.min(size.holdings, priced.length);
    while (chosen.size < count) chosen.add(priced[Math.floor(rnd() * priced.length)]!);
    const securities = [...chosen].map((i) => {
      const price = Number(generatedPrice(i));
      // Positions of roughly 0.2%–3% of a portfolio worth about 1 000 000.
      const value = 2000 + rnd() * 28_000;
      return { securityId: securityId(i), quantity: String(Math.max(1, Math.round(value / price))) };
    });
    const closed = Math.min(Math.round(size.holdings * realism.closedShare), size.securities - chosen.size);
    for (let k = 0; k < closed; k++) {
      let i = Math.floor(rnd() * size.securities);
      while (chosen.has(i)) i = (i + 1) % size.securities;
      chosen.add(i);
      securities.push({ securityId: securityId(i), quantity: '0' });
    }
    return { cash: (5000 + rnd() * 95_000).toFixed(2), securities };
  }

  return {
    size: () => size,
    resize(next: BookSize): void {
      size = next;
      index();
    },
    securityId,
    portfolioId,
    /** Generated securities that have a price (for models that must be priced). */
    pricedSecurityIds: (): string[] => priced.map(securityId),
    /** Every security (generated ones, then added ones), without the removed ones. */
    securities(): SimSecurity[] {
      const out: SimSecurity[] = [];
      for (let i = 0; i < size.securities; i++) {
        const id = securityId(i);
        const found = this.security(id);
        if (found !== null) out.push(found);
      }
      for (const [id, s] of securityOverrides) if (!securityIndex.has(id) && s !== null) out.push(s);
      return out;
    },
    security(id: string): SimSecurity | null {
      if (securityOverrides.has(id)) return securityOverrides.get(id) ?? null;
      const i = securityIndex.get(id);
      if (i === undefined) return null;
      return { securityId: id, ticker: tickerFor(i), description: `SIMULATED SECURITY ${i + 1}` };
    },
    setSecurity(id: string, ticker: string | null): void {
      securityOverrides.set(id, ticker === null ? null : { securityId: id, ticker, description: `SECURITY ${ticker}` });
    },
    /** Removes the security type of a security: GET /securities then answers 400 for the whole list. */
    dropSecurityType(id: string): void {
      const found = this.security(id);
      if (found !== null) securityOverrides.set(id, { ...found, typeMissing: true });
    },
    price(ticker: string): string | null {
      if (priceOverrides.has(ticker)) return priceOverrides.get(ticker) ?? null;
      const i = tickerIndex.get(ticker);
      return i === undefined ? null : generatedPrice(i);
    },
    prices(): { ticker: string; close: string }[] {
      const out = new Map<string, string>();
      for (const s of this.securities()) {
        const close = this.price(s.ticker);
        if (close !== null) out.set(s.ticker, close);
      }
      for (const [ticker, close] of priceOverrides) if (close !== null) out.set(ticker, close);
      return [...out].map(([ticker, close]) => ({ ticker, close }));
    },
    setPrice(ticker: string, close: string | null): void {
      priceOverrides.set(ticker, close);
    },
    /** The balances of a portfolio; null when it has none (a new or unknown portfolio). */
    holdings(id: string): SimHoldings | null {
      if (holdingOverrides.has(id)) return holdingOverrides.get(id) ?? null;
      const j = portfolioIndex.get(id);
      return j === undefined ? null : generatedHoldings(j);
    },
    /** Null: the portfolio exists (Portfolio service) but has no balances yet (a new portfolio). */
    setHoldings(id: string, holdings: SimHoldings | null): void {
      holdingOverrides.set(id, holdings);
    },
    /** Every portfolio the Portfolio service knows: generated ones, then added ones. */
    portfolioIds(): string[] {
      const ids = Array.from({ length: size.portfolios }, (_, j) => portfolioId(j));
      for (const id of holdingOverrides.keys()) if (!portfolioIndex.has(id)) ids.push(id);
      for (const id of nameOverrides.keys()) if (!portfolioIndex.has(id) && !holdingOverrides.has(id)) ids.push(id);
      return ids;
    },
    portfolioName(id: string): string | null {
      const named = nameOverrides.get(id);
      if (named !== undefined) return named;
      const j = portfolioIndex.get(id);
      if (j !== undefined) return `Portfolio ${j + 1}`;
      return holdingOverrides.has(id) ? `Portfolio ${id.slice(-6)}` : null;
    },
    setPortfolioName(id: string, name: string): void {
      nameOverrides.set(id, name);
    },
  };
}

export type Book = ReturnType<typeof createBook>;
