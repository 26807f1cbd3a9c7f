// Time under the test's control: a clock that moves only when told, and a
// gate that holds a simulated call open until the test lets it through.
import type { Clock } from '../../src/domain/clock.js';

export interface ManualClock extends Clock {
  /** Moves time forward by `ms`; returns the new now. */
  advance(ms: number): Date;
}

/** A clock standing still at `start` until advanced (fixed dates make tests independent of the day they run). */
export function manualClock(start: string | Date = '2026-03-02T10:00:00.000Z'): ManualClock {
  let now = new Date(start).getTime();
  return {
    now: () => new Date(now),
    advance(ms) {
      now += ms;
      return new Date(now);
    },
  };
}

export interface Gate {
  /** For a simulator fault's `hold`: records that a call arrived and holds it until `open()`. */
  readonly hold: () => Promise<void>;
  /** Settles once the first held call has arrived. */
  readonly arrived: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  let arrive!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  return {
    hold: () => {
      arrive();
      return opened;
    },
    arrived,
    open,
  };
}
