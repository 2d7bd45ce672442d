/**
 * The customer-managed KMS keys of Cutover and the AWS Control Tower proactive controls they
 * answer (CT.KMS.PR.3 on every key, CT.CLOUDWATCH.PR.3 on every log group).
 */
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct, IConstruct } from 'constructs';

/** The policy-validation plugin name under which Control Tower findings are acknowledged. */
export const CONTROL_TOWER_PLUGIN = 'cdk-validator-cfnguard';

/**
 * Acknowledges one Control Tower rule (its cfn-guard rule name, e.g. `sqs_dlq_check`) on one
 * construct and what it contains, with the reason a reviewer reads. The rule stays enabled for
 * every other resource.
 */
export function acknowledgeControl(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${CONTROL_TOWER_PLUGIN}::${rule}`, reason });
}

/**
 * The one key shape: rotation on, and the key policy statement CT.KMS.PR.3 asks for: nobody
 * may create a grant on the key unless the grant is for an AWS resource or the caller is an AWS
 * service (grants are how a principal outside the key policy gains use of the key).
 */
export function cutoverKey(scope: Construct, id: string, props: kms.KeyProps): kms.Key {
  const key = new kms.Key(scope, id, { enableKeyRotation: true, ...props });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'GrantsOnlyForAwsResources',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    }),
  );
  return key;
}

const LOG_KEY_ID = 'LogKey';

/**
 * The stack's key for CloudWatch Logs (one per stack, created on first use): every log group of
 * a Cutover stack is encrypted with it. CloudWatch Logs of this region may use it for log
 * groups of this account only (the encryption context names the log group).
 */
export function logEncryptionKey(scope: IConstruct): kms.Key {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(LOG_KEY_ID);
  if (existing) return existing as kms.Key;
  const key = cutoverKey(stack, LOG_KEY_ID, {
    description: `Encrypts the CloudWatch log groups of ${stack.stackName}`,
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchLogsOfThisAccount',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: [
        'kms:Encrypt',
        'kms:Decrypt',
        'kms:ReEncryptFrom',
        'kms:ReEncryptTo',
        'kms:GenerateDataKey',
        'kms:GenerateDataKeyWithoutPlaintext',
        'kms:DescribeKey',
      ],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
  return key;
}
