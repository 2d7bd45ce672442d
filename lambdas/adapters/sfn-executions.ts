/** {@link ExecutionsPort} on Step Functions ListExecutions (status RUNNING, all pages). */
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { ExecutionsPort, RunningExecution } from '../domain/rollout.js';

export class StepFunctionsExecutions implements ExecutionsPort {
  constructor(private readonly client: SFNClient = new SFNClient({})) {}

  async listRunning(stateMachineArn: string): Promise<RunningExecution[]> {
    const out: RunningExecution[] = [];
    let nextToken: string | undefined;
    do {
      const res = await this.client.send(
        new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: 100, nextToken }),
      );
      for (const e of res.executions ?? []) {
        if (e.executionArn && e.startDate)
          out.push({ executionArn: e.executionArn, startedAt: e.startDate.getTime() });
      }
      nextToken = res.nextToken;
    } while (nextToken);
    return out;
  }
}
