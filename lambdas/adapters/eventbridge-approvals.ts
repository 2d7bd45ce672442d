/** {@link ApprovalPort} on EventBridge: `cutover.approval.requested` on the platform bus. */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { APPROVAL_EVENT, type ApprovalPort, type ApprovalRequest } from '../domain/rollout.js';

export class EventBridgeApprovals implements ApprovalPort {
  constructor(
    private readonly busName: string,
    private readonly client: EventBridgeClient = new EventBridgeClient({}),
  ) {}

  async requestApproval(request: ApprovalRequest): Promise<void> {
    const res = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.busName,
            Source: APPROVAL_EVENT.source,
            DetailType: APPROVAL_EVENT.detailType,
            Detail: JSON.stringify(request),
            Resources: [request.executionArn],
          },
        ],
      }),
    );
    if (res.FailedEntryCount) {
      const e = res.Entries?.find((x) => x.ErrorCode);
      throw new Error(`PutEvents failed: ${e?.ErrorCode} ${e?.ErrorMessage}`);
    }
  }
}
