import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRIC, type MetricName } from '../spec/metrics.js';
import { RUNTIME_ENV } from '../spec/runtime.js';
import type { MigrationSpec } from '../spec/schema.js';
import { CutoverFunction, type HandlerName } from './cutover-function.js';
import { acknowledgeControl, logEncryptionKey } from './encryption.js';
import { cutoverMetric } from './metrics.js';

/** The AppConfig feature-flag profile the gateway reads (a `MigrationFlags` construct fits). */
export interface GatewayFlagsRef {
  readonly applicationId: string;
  readonly environmentId: string;
  readonly profileId: string;
}

/** Upstream URLs of one service for this stage, replacing the spec's. */
export interface GatewayUpstream {
  /** @default - the spec's `serviceUrl` */
  readonly serviceUrl?: string;
  /** @default - the spec's `legacyUrl` */
  readonly legacyUrl?: string;
}

export interface GatewayApiProps {
  /** The migration whose routes, flags and gateway settings the router uses. */
  readonly spec: MigrationSpec;
  /** Stage name (dev, staging, prod). */
  readonly stage: string;
  /** Where the flags live. The function may read only this configuration profile. */
  readonly flags: GatewayFlagsRef;
  /** Per-service upstream URLs of this stage. @default - the spec's URLs */
  readonly upstreams?: Readonly<Record<string, GatewayUpstream>>;
  /** Upstream for unrouted paths. @default - the spec's `gateway.fallbackUrl`, else the first service's legacy URL */
  readonly fallbackUrl?: string;
  /**
   * Authorizer on every route. With a JWT authorizer, the router takes the sticky-canary key from
   * the verified claims. @default - none: the upstreams authenticate requests themselves, as they
   * did before the gateway was put in front of them
   */
  readonly authorizer?: apigwv2.IHttpRouteAuthorizer;
  /** Stage throttling (requests per second, burst). @default { rateLimit: 1000, burstLimit: 2000 } */
  readonly throttle?: apigwv2.ThrottleSettings;
  /** Access log retention. @default logs.RetentionDays.ONE_MONTH */
  readonly accessLogRetention?: logs.RetentionDays;
  /** Memory of the gateway function; more memory is more CPU, hence lower latency. @default 1024 */
  readonly memorySize?: number;
  /** How long a response waits for shadow reads in flight (ms). @default 20 */
  readonly shadowGraceMs?: number;
  /** Run the function in this VPC when the upstreams are private. @default - no VPC */
  readonly vpc?: ec2.IVpc;
  /** @default - the VPC's private subnets; only with `vpc` */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default - a new security group; only with `vpc` */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * The strangler-fig front door of a migration: an API Gateway HTTP API whose every route goes to
 * the gateway Lambda (`lambdas/handlers/gateway.ts`), which routes each request to the legacy
 * system or the new service by the AppConfig flags (sticky canary percentages, write modes), the
 * services' health (circuit breakers) and the `x-canary` header, and shadow-compares reads while
 * a service's writes are in `shadow` mode. See docs/gateway.md.
 *
 * The function reads flags through AppConfig Data every `spec.gateway.flagPollSeconds` (≤ 5 s)
 * and may call only `StartConfigurationSession` and `GetLatestConfiguration` on the one
 * configuration profile. The stage writes JSON access logs and is throttled.
 *
 * @example
 * const flags = new MigrationFlags(this, 'Flags', { spec, stage });
 * const gateway = new GatewayApi(this, 'Gateway', { spec, stage, flags });
 * new CfnOutput(this, 'GatewayUrl', { value: gateway.url });
 */
export class GatewayApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly function: CutoverFunction;
  readonly accessLogGroup: logs.LogGroup;
  /** The ARN of the configuration profile the function may read. */
  readonly configurationArn: string;

  constructor(scope: Construct, id: string, props: GatewayApiProps) {
    super(scope, id);
    if (!props.vpc && (props.vpcSubnets || props.securityGroups)) {
      throw new Error(`${id}: vpcSubnets and securityGroups need vpc`);
    }
    const known = new Set(props.spec.services.map((s) => s.name));
    for (const name of Object.keys(props.upstreams ?? {})) {
      if (!known.has(name)) throw new Error(`${id}: upstreams names unknown service "${name}"`);
    }
    const gw = props.spec.gateway;
    // Two upstream attempts (service, then legacy for a read), a bounded flag refresh, the grace.
    const timeout = Duration.seconds(Math.ceil((2 * gw.upstreamTimeoutMs + 1_000 + 1_000) / 1000));
    if (timeout.toSeconds() > 29) {
      throw new Error(`${id}: gateway.upstreamTimeoutMs too large for API Gateway's 30 s integration limit`);
    }

    this.function = new CutoverFunction(this, 'Function', {
      // The gateway handler is `lambdas/handlers/gateway.ts`.
      handler: 'gateway' as string as HandlerName,
      serviceName: 'gateway',
      spec: props.spec,
      stage: props.stage,
      description: `cutover gateway router (${props.spec.name})`,
      memorySize: props.memorySize ?? 1024,
      timeout,
      logRetention: props.accessLogRetention ?? logs.RetentionDays.ONE_MONTH,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      environment: {
        [RUNTIME_ENV.appConfigApplicationId]: props.flags.applicationId,
        [RUNTIME_ENV.appConfigEnvironmentId]: props.flags.environmentId,
        [RUNTIME_ENV.appConfigProfileId]: props.flags.profileId,
        [RUNTIME_ENV.gatewayShadowGraceMs]: String(props.shadowGraceMs ?? 20),
        ...(props.upstreams ? { [RUNTIME_ENV.gatewayUpstreams]: JSON.stringify(props.upstreams) } : {}),
        ...(props.fallbackUrl ? { [RUNTIME_ENV.gatewayFallbackUrl]: props.fallbackUrl } : {}),
      },
    });

    this.configurationArn = Stack.of(this).formatArn({
      service: 'appconfig',
      resource: 'application',
      resourceName: `${props.flags.applicationId}/environment/${props.flags.environmentId}/configuration/${props.flags.profileId}`,
    });
    this.function.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['appconfig:StartConfigurationSession', 'appconfig:GetLatestConfiguration'],
        resources: [this.configurationArn],
      }),
    );

    this.api = new apigwv2.HttpApi(this, 'Api', {
      apiName: `cutover-${props.spec.name}-${props.stage}-gateway`,
      description: `Strangler-fig gateway of the ${props.spec.name} migration (${props.stage})`,
      createDefaultStage: false,
      defaultAuthorizer: props.authorizer,
      defaultIntegration: new HttpLambdaIntegration('Router', this.function, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
        timeout: Duration.seconds(Math.min(30, timeout.toSeconds() + 1)),
      }),
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: logEncryptionKey(this),
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 1000, burstLimit: 2000 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            method: '$context.httpMethod',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            responseLatency: '$context.responseLatency',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });

    if (!props.authorizer) {
      const reason =
        'The gateway is a transparent strangler-fig proxy: the legacy system and the services authenticate requests as they did before; pass `authorizer` to add one here.';
      Validations.of(this.api).acknowledge({ id: 'AwsSolutions-APIG4', reason });
      // CT.APIGATEWAY.PR.5 accepts only AWS_IAM, JWT or CUSTOM: browsers cannot sign with SigV4,
      // and a JWT/Lambda authorizer needs the store's identity provider (the `authorizer` prop).
      acknowledgeControl(this.api, 'api_gw_v2_authorization_type_configured_check', reason);
    }
    // The integration's permission has a SourceArn (this API's execute-api ARN), built from the
    // stack's account and region: the guard rule accepts only a literal or a resource reference.
    acknowledgeControl(
      this.api,
      'lambda_function_public_access_prohibited_check',
      'The permission is limited by SourceArn to this API (arn:…:execute-api:<region>:<account>:<api id>/*/*); the ARN is computed from the stack, which the static rule cannot read.',
    );
  }

  /** The URL of the gateway (the `$default` stage). */
  get url(): string {
    return this.stage.url;
  }

  /**
   * Upstream calls of a service, e.g. the canary's errors:
   * `metricRequests('customer', 'service', 'error')`. Sum per minute.
   */
  metricRequests(
    service: string,
    target: 'legacy' | 'service' | 'shadow',
    outcome: 'success' | 'error',
    props?: cloudwatch.MetricOptions,
  ): cloudwatch.Metric {
    return cutoverMetric(
      METRIC.gatewayRequests,
      { service, target, outcome },
      { statistic: 'Sum', ...props },
    );
  }

  /** Upstream latency of a service by target (ms). @default statistic p95 */
  metricLatency(
    service: string,
    target: 'legacy' | 'service' | 'shadow',
    props?: cloudwatch.MetricOptions,
  ): cloudwatch.Metric {
    return cutoverMetric(METRIC.gatewayLatency, { service, target }, { statistic: 'p95', ...props });
  }

  /** Share of shadow-compared reads of a service whose answers differed (0–1). */
  metricShadowMismatchRate(
    service: string,
    props?: cloudwatch.MathExpressionOptions,
  ): cloudwatch.MathExpression {
    const count = (metricName: MetricName) => cutoverMetric(metricName, { service }, { statistic: 'Sum' });
    return new cloudwatch.MathExpression({
      expression: 'IF(compared > 0, mismatched / compared, 0)',
      usingMetrics: {
        mismatched: count(METRIC.gatewayShadowMismatch),
        compared: count(METRIC.gatewayShadowCompared),
      },
      label: `${service} shadow mismatch rate`,
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** Lets a principal invoke the gateway's function directly (a local rehearsal, a canary probe). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.function.grantInvoke(grantee);
  }
}
