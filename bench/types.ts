/** What each `bench/*.bench.ts` file exports (default): one section of BENCHMARKS.md. */
export interface BenchRow {
  /** What was measured, e.g. "forward-sync, single-row". */
  readonly metric: string;
  readonly value: number;
  /** e.g. "events/s", "ms", "µs", "rows/s". */
  readonly unit: string;
  /** The baseline measured in the same run, when the row is a ratio against one. */
  readonly baseline?: { readonly metric: string; readonly value: number };
  /** The target in words, e.g. ">= 50 % of baseline". */
  readonly target?: string;
  /** Whether the target was met (reported, never asserted). */
  readonly met?: boolean;
}

export interface BenchSection {
  readonly title: string;
  readonly rows: readonly BenchRow[];
  readonly notes?: readonly string[];
  /**
   * Only some of the section's rows were measured (a bench's own filter): they replace the rows
   * of the same metric in BENCHMARKS.md and the notes with the same lead-in (the text before the
   * first `:`); the rest of the section stays as it was, under its own date.
   */
  readonly partial?: boolean;
}

export type Bench = (log: (line: string) => void) => Promise<BenchSection>;
