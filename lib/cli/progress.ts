/**
 * Progress of long CLI work (`rollout wait`, `dlq redrive`, `rehearse`) on stderr: on a terminal
 * one line rewritten in place behind a spinner; anywhere else (a pipe, a log file, `CI=true`)
 * plain lines, written when the text changes (and at most every `plainEveryMs`), so a CI log
 * shows the steps without a flood and without control characters.
 *
 * A dozen lines of its own rather than ora/listr2: the CLI needs one line, not task trees, and
 * this keeps `--help` and `plan` free of another dependency's load time.
 */

/** Where progress goes: stderr, or a stand-in in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressOptions {
  readonly stream?: ProgressStream;
  /** Environment to read `CI` from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Plain mode: the least time between two lines (for work that reports many times a second). @default 0 */
  readonly plainEveryMs?: number;
  /** Spinner redraw interval on a terminal. @default 120 */
  readonly spinEveryMs?: number;
  readonly now?: () => number;
}

export interface Progress {
  /** True when the line is rewritten in place (a terminal, not CI). */
  readonly live: boolean;
  /** The current state of the work, e.g. `customer: cutover-reads baking`. */
  update(text: string): void;
  /** A line that stays (an outcome, a warning), above the live line. */
  log(text: string): void;
  /** Ends the live line (clears it); further updates are ignored. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR = '\r\u001b[K';

/** Whether a stream gets the live line: a terminal, and not CI (`CI` set and not `false`/`0`). */
export function isLive(
  stream: ProgressStream,
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  const ci = env['CI'];
  return Boolean(stream.isTTY) && (ci === undefined || ci === '' || ci === 'false' || ci === '0');
}

/** A progress line on `options.stream` (stderr by default). */
export function progress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const plainEveryMs = options.plainEveryMs ?? 0;
  const live = isLive(stream, options.env);
  let text = '';
  let frame = 0;
  let stopped = false;
  let lastPlainText: string | undefined;
  let lastPlainAt = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setInterval> | undefined;

  const draw = () => {
    if (!stopped && text) stream.write(`${CLEAR}${FRAMES[frame++ % FRAMES.length]} ${text}`);
  };

  return {
    live,
    update(next) {
      if (stopped) return;
      text = next;
      if (live) {
        draw();
        if (!timer) {
          timer = setInterval(draw, options.spinEveryMs ?? 120);
          // The spinner never keeps the process alive on its own.
          timer.unref?.();
        }
        return;
      }
      const t = now();
      if (next !== lastPlainText && t - lastPlainAt >= plainEveryMs) {
        stream.write(`${next}\n`);
        lastPlainText = next;
        lastPlainAt = t;
      }
    },
    log(line) {
      if (live && !stopped && text) {
        stream.write(`${CLEAR}${line}\n`);
        draw();
      } else stream.write(`${line}\n`);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      if (live && text) stream.write(CLEAR);
    },
  };
}
