/**
 * Coalescing per turn of the event loop: calls made in the same turn (the records of an SQS
 * batch, started together) are handed to `run` as one list once the turn is over, and each call
 * gets its own outcome. Used for point reads (one BatchGetItem) and for the batched sync path.
 */

/** One item's outcome: its value, or the error that failed it alone. */
export type Outcome<R> = { readonly value: R } | { readonly error: unknown };

/**
 * A function whose calls of one turn are run together. `run` answers with one outcome per item,
 * in the items' order; if `run` itself fails, every call of that turn fails with its error.
 */
export function perTurn<T, R>(
  run: (items: readonly T[]) => Promise<readonly Outcome<R>[]>,
): (item: T) => Promise<R> {
  let queued: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  const flush = async () => {
    const calls = queued;
    queued = [];
    try {
      const outcomes = await run(calls.map((c) => c.item));
      calls.forEach((c, i) => {
        const o = outcomes[i];
        if (o && 'value' in o) c.resolve(o.value);
        else c.reject(o ? o.error : new Error('no outcome for this item'));
      });
    } catch (e) {
      for (const c of calls) c.reject(e);
    }
  };
  return (item) =>
    new Promise<R>((resolve, reject) => {
      if (!queued.length) setImmediate(() => void flush());
      queued.push({ item, resolve, reject });
    });
}
