// Fault injection and request counting for the simulated services.

export type SimService = 'accounting' | 'security' | 'pricing' | 'portfolio' | 'order';
export const SIM_SERVICES: readonly SimService[] = ['accounting', 'security', 'pricing', 'portfolio', 'order'];

export interface Fault {
  /** Only this route ("GET /api/v1/security/:securityId"); all of the service's routes when absent. */
  readonly route?: string;
  /** Delay before answering (or failing). */
  readonly latencyMs?: number;
  /** Called as a request arrives; the answer waits until what it returns settles (programmatic only: tests hold a call open). */
  readonly hold?: () => Promise<unknown>;
  /** Answer with this status (500, 503, 404, 429...) instead of the real answer. */
  readonly status?: number;
  /** With `status`: this plain-text body instead of the service's own error shape. */
  readonly text?: string;
  /** With a 503 or 429: the retry-after header, in seconds. */
  readonly retryAfterSeconds?: number;
  /** Fail only this fraction of requests (0..1), deterministically for the simulator's seed. */
  readonly failureRate?: number;
  /** Answer 200 with a body that is not JSON. */
  readonly malformed?: boolean;
  /** Close the connection without answering. */
  readonly drop?: boolean;
  /** Answer 200 at once, then its body a byte at a time, never ending (an upstream stuck mid-answer that keeps the line alive). */
  readonly trickle?: boolean;
  /** Apply to the next N matching requests only. */
  readonly times?: number;
  /** Let this many matching requests through first ("goes down midway"). */
  readonly after?: number;
}

interface Active {
  fault: Fault;
  remaining: number;
  skip: number;
}

export function createFaults(seed: number) {
  const rules = new Map<SimService, Active[]>();
  const counts = new Map<SimService, Map<string, number>>();
  let state = seed >>> 0 || 1;
  const rnd = () => {
    // xorshift32: deterministic failure-rate draws
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };

  return {
    set(service: SimService, fault: Fault): void {
      const list = rules.get(service) ?? [];
      list.push({ fault, remaining: fault.times ?? Infinity, skip: fault.after ?? 0 });
      rules.set(service, list);
    },
    clear(service?: SimService): void {
      if (service === undefined) rules.clear();
      else rules.delete(service);
    },
    /** The fault to apply to this request, if any (consumes one of its `times`). */
    pick(service: SimService, route: string): Fault | null {
      const list = rules.get(service);
      if (list === undefined) return null;
      for (const active of list) {
        if (active.remaining <= 0) continue;
        if (active.fault.route !== undefined && active.fault.route !== route) continue;
        if (active.skip > 0) {
          active.skip -= 1;
          continue;
        }
        if (active.fault.failureRate !== undefined && rnd() >= active.fault.failureRate) continue;
        active.remaining -= 1;
        return active.fault;
      }
      return null;
    },
    count(service: SimService, route: string): void {
      const byRoute = counts.get(service) ?? new Map<string, number>();
      byRoute.set(route, (byRoute.get(route) ?? 0) + 1);
      counts.set(service, byRoute);
    },
    counts(): Record<SimService, Record<string, number>> {
      const out = {} as Record<SimService, Record<string, number>>;
      for (const service of SIM_SERVICES) out[service] = Object.fromEntries(counts.get(service) ?? []);
      return out;
    },
    total(service: SimService, route?: string): number {
      const byRoute = counts.get(service);
      if (byRoute === undefined) return 0;
      if (route !== undefined) return byRoute.get(route) ?? 0;
      let sum = 0;
      for (const n of byRoute.values()) sum += n;
      return sum;
    },
    resetCounts(): void {
      counts.clear();
    },
  };
}

export type Faults = ReturnType<typeof createFaults>;
