// The rules every write path of a model must satisfy (api.md, Models): target
// range and step, drift range and order, target sum, position count, unique securities.
import { add, compare, type Dec, dec, equals, formatDecimal, isMultipleOf, isZero, sign, ZERO } from './decimal.js';
import type { ErrorDetail } from './errors.js';
import { ValidationError } from './errors.js';
import { detail, type PathSegment, summarise } from './validation.js';

export interface ModelPosition {
  readonly securityId: string;
  readonly target: Dec;
  readonly highDrift: Dec;
  readonly lowDrift: Dec;
}

export const MAX_TARGET = dec('0.95');
export const TARGET_STEP = dec('0.005');
export const MAX_TARGET_SUM = dec('0.95');
export const MAX_DRIFT = dec(1);
export const MAX_POSITIONS = 100;

/** Problems with one position's own values; `at` is where it sits in the request. */
export function positionProblems(position: ModelPosition, at: readonly PathSegment[]): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const { target, highDrift, lowDrift } = position;
  if (sign(target) < 0 || compare(target, MAX_TARGET) > 0) {
    problems.push(detail([...at, 'target'], `must be between 0 and ${formatDecimal(MAX_TARGET)}`));
  } else if (!isMultipleOf(target, TARGET_STEP)) {
    problems.push(detail([...at, 'target'], `must be 0 or a multiple of ${formatDecimal(TARGET_STEP)}`));
  }
  const inRange = (value: Dec) => sign(value) >= 0 && compare(value, MAX_DRIFT) <= 0;
  if (!inRange(highDrift)) problems.push(detail([...at, 'high_drift'], 'must be between 0 and 1'));
  if (!inRange(lowDrift)) problems.push(detail([...at, 'low_drift'], 'must be between 0 and 1'));
  // The original service's domain rule (api.md, Models), once both are in range.
  if (inRange(highDrift) && inRange(lowDrift) && compare(lowDrift, highDrift) > 0) {
    const order = `(${formatDecimal(lowDrift)} > ${formatDecimal(highDrift)})`;
    problems.push(detail([...at, 'low_drift'], `must not be above high_drift for security ${position.securityId} ${order}`));
  }
  return problems;
}

/** Problems of the model as a whole: how many positions and what their targets sum to. */
export function totalsProblems(positions: readonly ModelPosition[], at: readonly PathSegment[]): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const held = positions.filter((p) => sign(p.target) > 0);
  if (held.length > MAX_POSITIONS) {
    problems.push({
      path: at.join('.'),
      message: `the model would have ${held.length} positions with a target above zero; at most ${MAX_POSITIONS} are allowed`,
    });
  }
  const sum = held.reduce((acc, p) => add(acc, p.target), ZERO);
  if (compare(sum, MAX_TARGET_SUM) > 0) {
    problems.push({
      path: at.join('.'),
      message: `the targets would sum to ${formatDecimal(sum)}, above the maximum of ${formatDecimal(MAX_TARGET_SUM)} (at least 5% stays in cash)`,
    });
  }
  return problems;
}

function failIfAny(problems: readonly ErrorDetail[]): void {
  if (problems.length > 0) throw new ValidationError(summarise(problems), problems);
}

/**
 * Checks the positions of a create or replace request and returns what is
 * saved: every rule checked, positions with a zero target dropped.
 */
export function normalisePositions(positions: readonly ModelPosition[]): ModelPosition[] {
  const problems: ErrorDetail[] = [];
  const firstSeen = new Map<string, number>();
  positions.forEach((position, index) => {
    problems.push(...positionProblems(position, ['positions', index]));
    const earlier = firstSeen.get(position.securityId);
    if (earlier === undefined) {
      firstSeen.set(position.securityId, index);
    } else {
      const repeated = `repeats security ${position.securityId}, already at positions[${earlier}]`;
      problems.push(detail(['positions', index, 'security_id'], repeated));
    }
  });
  failIfAny(problems);
  const kept = positions.filter((p) => !isZero(p.target));
  failIfAny(totalsProblems(kept, ['positions']));
  return kept;
}

/** Checks one position sent to the position routes (its fields sit at the top of the body). */
export function assertValidPosition(position: ModelPosition): void {
  failIfAny(positionProblems(position, []));
}

/** Checks the positions a model would have after a single-position change. */
export function assertValidTotals(positions: readonly ModelPosition[]): void {
  failIfAny(totalsProblems(positions, []));
}

export function samePositionValues(a: ModelPosition, b: ModelPosition): boolean {
  return equals(a.target, b.target) && equals(a.highDrift, b.highDrift) && equals(a.lowDrift, b.lowDrift);
}
