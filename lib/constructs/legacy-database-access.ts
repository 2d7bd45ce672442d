import { Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { RUNTIME_ENV } from '../spec/runtime.js';
import { logEncryptionKey } from './encryption.js';

/** The network of an existing database, as the spec (or cdk.json) names it. */
export interface DatabaseNetwork {
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  /** @default - two placeholder zones (only used for subnet selection by CDK) */
  readonly availabilityZones?: readonly string[];
}

export interface LegacyDatabaseAccessProps {
  /** The migration whose legacy database this is: named in errors. */
  readonly migration: string;
  /** Secrets Manager secret with host, port, username, password, dbname (e.g. `magento-db-creds`). */
  readonly secretName: string;
  /** The database's network. Mutually exclusive with `createVpc`. @default - none */
  readonly network?: DatabaseNetwork;
  /** Create a VPC (dev). Mutually exclusive with `network`. @default false */
  readonly createVpc?: boolean;
  /** Connect through this RDS Proxy endpoint instead of the secret's host. @default - the secret's host */
  readonly rdsProxyEndpoint?: string;
  /** Retention of the created VPC's flow logs. @default ONE_MONTH */
  readonly flowLogRetention?: logs.RetentionDays;
  /** PEM of the CA of the database's TLS certificate. @default - the Amazon RDS CA bundle */
  readonly tlsCaPem?: string;
  /**
   * ARN of the customer-managed KMS key the secret is encrypted with: the functions that read
   * the secret get `kms:Decrypt` on it, through Secrets Manager only (`kms:ViaService`).
   * @default - the AWS managed key `aws/secretsmanager` (no grant needed)
   */
  readonly secretKeyArn?: string;
}

/** The legacy database's network is missing or given twice; the message names the migration. */
export class LegacyDatabaseNetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LegacyDatabaseNetworkError';
  }
}

/**
 * How the functions that talk to a migration's legacy MySQL database (Magento's, for the
 * bundled spec) reach it: the VPC, subnets and security groups named in the spec (or a VPC
 * created for dev), the credentials secret, and optionally an RDS Proxy endpoint. Pass
 * {@link functionNetwork} to a `CutoverFunction` and call {@link grantConnect} on it.
 *
 * Named `MagentoDatabaseAccess` before; the class was renamed, its construct id (`Database` in
 * the platform stack) was not, so the logical ids of deployed resources are unchanged.
 */
export class LegacyDatabaseAccess extends Construct {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly securityGroups: readonly ec2.ISecurityGroup[];
  readonly secret: secretsmanager.ISecret;
  readonly rdsProxyEndpoint?: string;
  readonly tlsCaPem?: string;
  readonly secretKeyArn?: string;

  constructor(scope: Construct, id: string, props: LegacyDatabaseAccessProps) {
    super(scope, id);
    if (props.network && props.createVpc) {
      throw new LegacyDatabaseNetworkError(
        `Migration "${props.migration}": give the legacy database either a network or createVpc, not both`,
      );
    }
    if (!props.network && !props.createVpc) {
      throw new LegacyDatabaseNetworkError(
        `Migration "${props.migration}": the legacy database network is not named; set legacy.network in the spec or \`networks.${props.migration}\` for this environment in cdk.json (an environment may set createVpc instead)`,
      );
    }
    this.secret = secretsmanager.Secret.fromSecretNameV2(this, 'Secret', props.secretName);
    this.rdsProxyEndpoint = props.rdsProxyEndpoint;
    this.tlsCaPem = props.tlsCaPem;
    this.secretKeyArn = props.secretKeyArn;
    if (props.network) {
      const n = props.network;
      const zones = n.availabilityZones ?? n.subnetIds.map((_, i) => `zone-${i}`);
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: n.vpcId,
        availabilityZones: [...zones],
        privateSubnetIds: [...n.subnetIds],
      });
      this.vpcSubnets = {
        subnets: n.subnetIds.map((s, i) => ec2.Subnet.fromSubnetId(this, `Subnet${i}`, s)),
      };
      Validations.of(this).acknowledge({
        id: 'Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId',
        reason:
          'The imported subnets only place the Lambda ENIs; nothing here reads their route tables, so their ids are not needed.',
      });
      this.securityGroups = n.securityGroupIds.map((sg, i) =>
        ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${i}`, sg, { mutable: false }),
      );
    } else {
      const vpc = new ec2.Vpc(this, 'Vpc', {
        maxAzs: 2,
        natGateways: 1,
        subnetConfiguration: [
          // Only the NAT gateway lives here (with its Elastic IP): nothing needs a public IP on launch.
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
          { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        ],
        gatewayEndpoints: { DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } },
      });
      vpc.addFlowLog('FlowLog', {
        destination: ec2.FlowLogDestination.toCloudWatchLogs(
          new logs.LogGroup(this, 'FlowLogs', {
            retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH,
            encryptionKey: logEncryptionKey(this),
          }),
        ),
        trafficType: ec2.FlowLogTrafficType.REJECT,
      });
      this.vpc = vpc;
      this.vpcSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
      this.securityGroups = [
        new ec2.SecurityGroup(this, 'FunctionSecurityGroup', {
          vpc,
          description: `Cutover functions that reach the ${props.migration} legacy database`,
          allowAllOutbound: true,
        }),
      ];
    }
  }

  /** The VPC settings for a `CutoverFunction`. */
  functionNetwork(): {
    vpc: ec2.IVpc;
    vpcSubnets: ec2.SubnetSelection;
    securityGroups: ec2.ISecurityGroup[];
  } {
    return { vpc: this.vpc, vpcSubnets: this.vpcSubnets, securityGroups: [...this.securityGroups] };
  }

  /**
   * Lets a function read the credentials (again and again: the functions re-read the secret to
   * follow rotations), with `kms:Decrypt` on the secret's key when it has one of its own.
   */
  grantConnect(grantee: iam.IGrantable): iam.Grant {
    const read = this.secret.grantRead(grantee);
    if (!this.secretKeyArn) return read;
    return read.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['kms:Decrypt'],
        resourceArns: [this.secretKeyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
        },
      }),
    );
  }

  /**
   * `CUTOVER_LEGACY_SECRET_ARN`, with a proxy `CUTOVER_LEGACY_ENDPOINT`, with a CA of its own
   * `CUTOVER_LEGACY_CA` (the functions connect over TLS either way).
   */
  runtimeEnvironment(): Record<string, string> {
    return {
      [RUNTIME_ENV.legacySecretArn]: this.secret.secretArn,
      ...(this.rdsProxyEndpoint ? { [RUNTIME_ENV.legacyEndpoint]: this.rdsProxyEndpoint } : {}),
      ...(this.tlsCaPem ? { [RUNTIME_ENV.legacyCa]: this.tlsCaPem } : {}),
    };
  }
}
