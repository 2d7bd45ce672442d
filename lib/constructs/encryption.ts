/**
 * The customer-managed KMS keys of Cutover and the AWS Control Tower proactive controls they
 * answer (CT.KMS.PR.3 on every key, CT.CLOUDWATCH.PR.3 on every log group), and the option to
 * encrypt queues, tables, the bus and log groups with a customer-managed key
 * ({@link CustomerManagedKeyProps}).
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
const DATA_KEY_ID = 'DataKey';

/**
 * Customer-managed encryption of a construct's queues, tables, bus or log groups, in the style
 * of the AWS Solutions Constructs: give a key, or ask for the stack's own.
 */
export interface CustomerManagedKeyProps {
  /**
   * The key to encrypt with. Its key policy must let the services that write with it do so (see
   * {@link dataEncryptionKey} for what a Cutover key allows).
   * @default - the stack's key when `enableEncryptionWithCustomerManagedKey` (or the stack's
   *   setting, {@link enableCustomerManagedKeys}) says so, else the AWS-managed or AWS-owned key
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Encrypt with the stack's customer-managed key ({@link dataEncryptionKey}). `false` keeps the
   * AWS-managed key even in a stack that turned customer-managed keys on.
   * @default - the stack's setting ({@link enableCustomerManagedKeys}), else false
   */
  readonly enableEncryptionWithCustomerManagedKey?: boolean;
}

const CUSTOMER_KEY_STACKS = new WeakSet<Stack>();

/**
 * Turns customer-managed keys on for every queue, table, bus and log group of the stack that
 * does not choose otherwise: they are encrypted with the stack's {@link dataEncryptionKey}
 * (the environment setting `customerManagedKeys`). Call it before the stack's constructs.
 */
export function enableCustomerManagedKeys(scope: IConstruct): void {
  const stack = Stack.of(scope);
  CUSTOMER_KEY_STACKS.add(stack);
  acknowledgeKeyActionWildcards(stack);
}

/**
 * aws-cdk-lib's grants on SQS queues and DynamoDB tables under a customer-managed key name two
 * KMS actions by prefix (`kms:GenerateDataKey*`, `kms:ReEncrypt*`), which cdk-nag's IAM5 flags.
 * Acknowledged for the grants of `scope` only: each statement names the one key's ARN.
 */
export function acknowledgeKeyActionWildcards(scope: IConstruct): void {
  for (const action of ['kms:GenerateDataKey*', 'kms:ReEncrypt*']) {
    Validations.of(scope).acknowledge({
      id: `AwsSolutions-IAM5[Action::${action}]`,
      reason: `aws-cdk-lib's queue and table grants under a customer-managed key name ${action} (its variants of one operation: with or without plaintext, from or to); the statement's resource is that one key's ARN, never "*".`,
    });
  }
}

/** Whether the stack of `scope` encrypts with its customer-managed key by default. */
export function customerManagedKeysEnabled(scope: IConstruct): boolean {
  return CUSTOMER_KEY_STACKS.has(Stack.of(scope));
}

/**
 * The customer-managed key a construct encrypts with, or `undefined` for the service's default
 * key: `props.encryptionKey`, else the stack's key when the props or the stack ask for it.
 */
export function customerManagedKey(
  scope: IConstruct,
  props: CustomerManagedKeyProps = {},
): kms.IKey | undefined {
  const enabled = props.enableEncryptionWithCustomerManagedKey ?? customerManagedKeysEnabled(scope);
  const key = props.encryptionKey ?? (enabled ? dataEncryptionKey(scope) : undefined);
  // A construct that asked for a key of its own in a stack without the setting: its grants too.
  if (key && !customerManagedKeysEnabled(scope)) acknowledgeKeyActionWildcards(Stack.of(scope));
  return key;
}

/**
 * The stack's customer-managed key for its data at rest (one per stack, created on first use):
 * queues, tables, the bus and, in a stack with customer-managed keys on, its log groups. Its key
 * policy lets CloudWatch Logs use it for this account's log groups; EventBridge gets its use
 * only where a queue under the key receives from a rule ({@link allowEventBridgeDelivery}), and
 * the bus adds its own bus-scoped statement. Principals of the account use it through their IAM
 * policies (the grants of the queues and tables).
 */
export function dataEncryptionKey(scope: IConstruct): kms.Key {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(DATA_KEY_ID);
  if (existing) return existing as kms.Key;
  const key = cutoverKey(stack, DATA_KEY_ID, {
    description: `Encrypts the queues, tables, bus and log groups of ${stack.stackName}`,
  });
  allowCloudWatchLogs(key);
  return key;
}

const EVENTBRIDGE_KEYS = new WeakSet<kms.IKey>();

/**
 * Lets EventBridge rules of this account deliver to SQS queues encrypted with `key` (SQS asks
 * the sender for `kms:GenerateDataKey` and `kms:Decrypt`): added once per key, only for keys
 * with a policy of ours (an imported key's policy is its owner's to change).
 */
export function allowEventBridgeDelivery(key: kms.IKey): void {
  if (EVENTBRIDGE_KEYS.has(key)) return;
  EVENTBRIDGE_KEYS.add(key);
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'EventBridgeDeliversToQueues',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(key).account } },
    }),
  );
}

/**
 * The stack's key for CloudWatch Logs (one per stack, created on first use): every log group of
 * a Cutover stack is encrypted with it. CloudWatch Logs of this region may use it for log
 * groups of this account only (the encryption context names the log group). In a stack with
 * customer-managed keys on ({@link enableCustomerManagedKeys}) it is the stack's data key.
 */
export function logEncryptionKey(scope: IConstruct): kms.Key {
  if (customerManagedKeysEnabled(scope)) return dataEncryptionKey(scope);
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(LOG_KEY_ID);
  if (existing) return existing as kms.Key;
  const key = cutoverKey(stack, LOG_KEY_ID, {
    description: `Encrypts the CloudWatch log groups of ${stack.stackName}`,
  });
  allowCloudWatchLogs(key);
  return key;
}

/** CloudWatch Logs of the key's region may use it for log groups of its account only. */
function allowCloudWatchLogs(key: kms.Key): void {
  const stack = Stack.of(key);
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
}
