// Readable, well-formed ids and bodies for tests.
export const securityId = (n: number) => `SEC${String(n).padStart(21, '0')}`;
export const portfolioId = (n: number) => `PRT${String(n).padStart(21, '0')}`;

export interface PositionBody {
  security_id: string;
  target: string | number;
  high_drift: string | number;
  low_drift: string | number;
}

export const position = (n: number, target: string | number, drift: string | number = '0.02'): PositionBody => ({
  security_id: securityId(n),
  target,
  high_drift: drift,
  low_drift: drift,
});

/** Parses a JSON response body (the tests read what the user reads). */
export const json = <T = any>(response: { body: string }): T => JSON.parse(response.body) as T; // eslint-disable-line @typescript-eslint/no-explicit-any -- test bodies are asserted field by field
