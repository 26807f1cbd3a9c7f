// Work over many items at a bounded concurrency (the portfolios of a model).

/**
 * Calls `each(i)` for every i in 0..total-1, `concurrency` at a time, until
 * `cancel` aborts. The first failure aborts the rest and is returned (null
 * when there was none): what fails after the abort is the cancellation itself.
 */
export async function eachConcurrently(
  total: number,
  concurrency: number,
  cancel: AbortController,
  each: (i: number) => Promise<void>,
): Promise<unknown> {
  const { signal } = cancel;
  let failure: unknown = null;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < total && !signal.aborted; i = next++) {
      try {
        await each(i);
      } catch (error) {
        if (failure === null && !signal.aborted) failure = error;
        cancel.abort();
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return failure;
}
