/**
 * Captures the CloudWatch EMF documents Powertools Metrics writes to stdout while a handler runs
 * (the metrics a test asserts; Powertools must be enabled when the handler module creates them).
 */
/** An EMF document as Powertools Metrics writes it to stdout. */
export type Emf = {
  _aws?: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
} & Record<string, unknown>;

/** Runs `fn` with stdout captured; returns the EMF documents written. */
export async function emfOf<T>(fn: () => Promise<T>): Promise<{ result: T; docs: Emf[] }> {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write;
  try {
    const result = await fn();
    return {
      result,
      docs: lines.flatMap((l) => {
        try {
          const doc = JSON.parse(l) as Emf;
          return doc._aws ? [doc] : [];
        } catch {
          return [];
        }
      }),
    };
  } finally {
    process.stdout.write = write;
  }
}
