/**
 * The one shape of a Cutover bucket, answering AWS Control Tower's S3 controls: SSE-KMS with the
 * caller's key, TLS only, no public access and no ACLs, versioned, S3 Object Lock enabled,
 * lifecycle rules (old versions expire with the objects), object events to EventBridge, and
 * server access logs in a bucket of their own (SSE-S3, same shape otherwise).
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeControl } from './encryption.js';

export interface LoggedBucketProps {
  readonly encryptionKey: kms.IKey;
  /** Expiry of current objects (all, or per prefix); old versions expire after `noncurrentDays`. */
  readonly expiration: { readonly days: number; readonly prefix?: string };
  /** @default - the expiration's days */
  readonly noncurrentDays?: number;
  /** Prefix of this bucket's access log objects in the log bucket. */
  readonly accessLogPrefix: string;
  /** Object Lock default retention (governance). @default - none (lock enabled, no default) */
  readonly lockDays?: number;
  /** What the bucket holds, for the reasons of its acknowledgements. */
  readonly purpose: string;
}

/** A bucket and its access-log bucket, under a construct `id` of `scope`. */
export class LoggedBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: LoggedBucketProps) {
    super(scope, id);
    // Access-log delivery by bucket policy, not the LogDeliveryWrite ACL (CT.S3.PR.5: no ACLs).
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const noncurrent = props.noncurrentDays ?? props.expiration.days;
    const common = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      objectLockEnabled: true,
      removalPolicy: RemovalPolicy.RETAIN,
    } satisfies s3.BucketProps;
    const abort: s3.LifecycleRule = {
      id: 'abort-uploads',
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    };
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [
        {
          id: 'expire',
          expiration: Duration.days(Math.max(props.expiration.days, noncurrent) + 1),
          noncurrentVersionExpiration: Duration.days(1),
        },
        abort,
      ],
    });
    const logsReason = `This bucket receives the server access logs of the ${props.purpose} bucket; logging it as well would log its own log deliveries.`;
    Validations.of(this.accessLogs).acknowledge({ id: 'AwsSolutions-S1', reason: logsReason });
    acknowledgeControl(this.accessLogs, 's3_bucket_logging_enabled_check', logsReason);
    acknowledgeControl(
      this.accessLogs,
      's3_bucket_default_encryption_kms_check',
      `Server access logs hold request metadata, not the ${props.purpose}; a KMS-encrypted log destination needs the S3 logging service allowed kms:GenerateDataKey* and kms:ReEncrypt* on the key (CDK adds that statement), which is more than the logs are worth. SSE-S3 here; the ${props.purpose} bucket itself is SSE-KMS.`,
    );
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...common,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: true,
      lifecycleRules: [
        { id: 'expire', prefix: props.expiration.prefix, expiration: Duration.days(props.expiration.days) },
        // Every overwritten or deleted object's old version, whatever its prefix.
        { id: 'expire-old-versions', noncurrentVersionExpiration: Duration.days(noncurrent) },
        abort,
      ],
      ...(props.lockDays
        ? { objectLockDefaultRetention: s3.ObjectLockRetention.governance(Duration.days(props.lockDays)) }
        : {}),
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: props.accessLogPrefix,
    });
    for (const b of [this.bucket, this.accessLogs]) {
      // Object events on the account's default bus (CT.S3.PR.4), set on the resource itself:
      // `eventBridgeEnabled` would add a custom-resource Lambda.
      (b.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
        eventBridgeConfiguration: { eventBridgeEnabled: true },
      };
    }
  }
}
