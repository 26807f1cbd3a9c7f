// One rebalance cycle: every model that has portfolios, through the same path
// as the API (rebalance and submit: with order submission on, each model's
// orders are submitted once its rebalance is stored). Recorded from start to end.
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { AppError } from '../../domain/errors.js';
import { UpstreamUnavailableError } from '../../upstreams/index.js';
import type { ModelRepository } from '../models/repository.js';
import { type RebalanceService, SubmissionAfterStoreError } from '../rebalancing/service.js';
import { type CycleProgress, noCounts } from './cycles.js';

/** `trigger`: REBALANCE_TRIGGER (issue 18). */
export interface CycleDeps extends Pick<Config['schedule'], 'trigger'> {
  readonly models: ModelRepository;
  readonly rebalancing: RebalanceService;
  readonly log: Logger;
}

/**
 * Runs the models of one cycle; `stopping()` is asked between models (graceful shutdown);
 * `progress` is told as each model begins and ends (with the id of the model under way).
 */
export async function runCycleModels(
  deps: CycleDeps,
  stopping: () => boolean,
  progress?: (done: CycleProgress, current: string | null) => void,
) {
  const { models, rebalancing, log } = deps;
  const counts = noCounts();
  const rebalanceIds: string[] = [];
  const stored = (run: { total: number; infeasible: number; inBand?: number | undefined; rebalanceId: string | null }) => {
    counts.models += 1;
    counts.portfolios += run.total;
    counts.infeasible += run.infeasible;
    counts.inBand += run.inBand ?? 0;
    if (run.rebalanceId !== null) rebalanceIds.push(run.rebalanceId);
  };
  const errors: string[] = [];
  let attempted = 0;

  const all = (await models.list([], 0, undefined)).filter((m) => m.portfolios.length > 0);
  const portfoliosTotal = all.reduce((n, m) => n + m.portfolios.length, 0);
  let portfoliosDone = 0;
  const tell = (modelsDone: number, current: string | null) =>
    progress?.(
      { models_done: modelsDone, models_total: all.length, portfolios_done: portfoliosDone, portfolios_total: portfoliosTotal },
      current,
    );
  for (const [index, model] of all.entries()) {
    tell(index, model.id);
    if (stopping()) break;
    attempted += 1;
    try {
      const run = await rebalancing.rebalanceLoadedModel(model, deps.trigger);
      stored(run);
      const submitted = run.submission;
      if (submitted !== null) {
        counts.ordersSubmitted += submitted.accepted;
        counts.ordersFailed += submitted.rejected + submitted.failed + submitted.unknown;
        if (submitted.error !== null) {
          counts.upstreamFailures += 1;
          errors.push(`model ${model.id}: ${submitted.error.message}`);
        }
      }
    } catch (error) {
      // Stored, its orders not submitted: the rebalance counts, and its id is in the record.
      if (error instanceof SubmissionAfterStoreError) stored(error.run);
      if (error instanceof UpstreamUnavailableError) counts.upstreamFailures += 1;
      else if (!(error instanceof AppError)) log.error({ err: error, modelId: model.id }, 'cycle: model failed');
      errors.push(`model ${model.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
    portfoliosDone += model.portfolios.length;
  }
  const interrupted = attempted < all.length;
  if (!interrupted) tell(all.length, null);
  const status = interrupted ? 'interrupted' : errors.length === 0 ? 'succeeded' : errors.length < attempted ? 'partial' : 'failed';
  // as const: the status stays one of its four values.
  return { status, counts, rebalanceIds, errors } as const;
}
