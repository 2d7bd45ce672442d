/**
 * The `cutover` CLI's errors and exit codes (README "Operating with the CLI"). An error the
 * operator can act on is printed as its message alone, never with a stack trace.
 *
 * | code | meaning |
 * | ---- | ------- |
 * | 0 | done; for `rollout wait`: the service is cut over |
 * | 1 | the outcome is bad: rollout failed or rolled back, a check failed, a redrive left messages |
 * | 2 | usage or configuration: a bad option, an unknown migration/service/queue, an invalid spec |
 * | 3 | AWS: no credentials, a stack not deployed, an API refused the call |
 * | 4 | `rollout wait --timeout` elapsed with the rollout still running |
 * | 70 | a bug in cutover (bin/cutover.ts `reportError`; `CUTOVER_DEBUG=1` prints the stack) |
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, aws: 3, timeout: 4 } as const;

/** An error of the CLI with the exit code it ends with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** An AWS call the CLI needs failed (credentials, permissions, a missing stack). Exit 3. */
export class AwsCallError extends CliError {
  constructor(what: string, cause: unknown) {
    const e = cause as { name?: string; message?: string };
    const message = e?.message ?? String(cause);
    // The SDK's own words for a missing region or credentials do not say what to set.
    const hint = /Region is missing/i.test(message)
      ? ' (set AWS_REGION or a profile with a region)'
      : /Could not load credentials/i.test(message)
        ? ' (set AWS_PROFILE or AWS credentials)'
        : '';
    super(`${what}: ${e?.name ?? 'Error'}: ${message}${hint}`, EXIT.aws, { cause });
    this.name = 'AwsCallError';
  }
}
