/**
 * Rollout task `Approve…` (waitForTaskToken): publishes `cutover.approval.requested` with the
 * task token. The execution waits until an operator calls `aws stepfunctions send-task-success`
 * or `send-task-failure` with that token, or the task times out.
 */
import { RUNTIME_ENV, requiredEnv } from '../../lib/spec/runtime.js';
import { EventBridgeApprovals } from '../adapters/eventbridge-approvals.js';
import { type ApprovalInput, requestApproval } from '../domain/rollout-tasks.js';
import { taskHandler } from './rollout-runtime.js';

let approvals: EventBridgeApprovals | undefined;

export const handler = taskHandler('request-approval', (input: ApprovalInput) => {
  approvals ??= new EventBridgeApprovals(requiredEnv(RUNTIME_ENV.busName));
  return requestApproval({ approvals, clock: Date.now }, input);
});
