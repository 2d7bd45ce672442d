import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { GatewayApi, type GatewayApiProps } from '../../lib/constructs/gateway-api.js';
import magento from '../../migrations/magento.js';

const flags = { applicationId: 'app1234', environmentId: 'env5678', profileId: 'prof9012' };

function synth(props: Partial<GatewayApiProps> = {}, nag = false) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const stack = new Stack(app, 'GatewayTest', { env: { account: '111111111111', region: 'eu-west-1' } });
  const gateway = new GatewayApi(stack, 'Gateway', { spec: magento, stage: 'dev', flags, ...props });
  return { app, stack, gateway, template: Template.fromStack(stack) };
}

describe('Construct: GatewayApi', () => {
  it('fronts every route with the gateway Lambda over payload format 2.0', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
    });
  });

  it('runs the router on arm64 with tracing, the AppConfig ids and the gateway settings in its environment', () => {
    const { template } = synth({
      upstreams: { customer: { serviceUrl: 'https://customer.dev.internal' } },
      shadowGraceMs: 15,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Runtime: Match.stringLikeRegexp('^nodejs2[2-9]'),
      TracingConfig: { Mode: 'Active' },
      MemorySize: 1024,
      Timeout: 8, // 2 × 3 s upstream + 1 s flag refresh + 1 s grace
      Environment: {
        Variables: Match.objectLike({
          CUTOVER_MIGRATION: 'magento',
          CUTOVER_STAGE: 'dev',
          CUTOVER_APPCONFIG_APPLICATION_ID: 'app1234',
          CUTOVER_APPCONFIG_ENVIRONMENT_ID: 'env5678',
          CUTOVER_APPCONFIG_PROFILE_ID: 'prof9012',
          CUTOVER_GATEWAY_SHADOW_GRACE_MS: '15',
          CUTOVER_GATEWAY_UPSTREAMS: JSON.stringify({
            customer: { serviceUrl: 'https://customer.dev.internal' },
          }),
        }),
      },
    });
  });

  it('grants exactly the two AppConfig Data actions on the one configuration profile', () => {
    const { template } = synth();
    const policies = template.findResources('AWS::IAM::Policy');
    const statements = Object.values(policies).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } })
          .Properties.PolicyDocument.Statement,
    );
    const appconfig = statements.filter((s) => JSON.stringify(s.Action).includes('appconfig:'));
    expect(appconfig).toHaveLength(1);
    expect(appconfig[0]!.Action).toEqual([
      'appconfig:StartConfigurationSession',
      'appconfig:GetLatestConfiguration',
    ]);
    expect(appconfig[0]!.Resource).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':appconfig:eu-west-1:111111111111:application/app1234/environment/env5678/configuration/prof9012',
        ],
      ],
    });
    for (const s of statements) {
      for (const a of [s.Action].flat()) expect(String(a)).not.toMatch(/\*/);
    }
  });

  it('writes JSON access logs and throttles the stage', () => {
    const { template } = synth({ throttle: { rateLimit: 50, burstLimit: 100 } });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('exposes the metrics the router emits', () => {
    const { gateway } = synth();
    const errors = gateway.metricRequests('customer', 'service', 'error');
    expect(errors).toMatchObject({
      namespace: 'Cutover',
      metricName: 'gateway_requests_total',
      dimensions: { service: 'customer', target: 'service', outcome: 'error' },
      statistic: 'Sum',
    });
    expect(gateway.metricLatency('customer', 'service')).toMatchObject({
      metricName: 'gateway_latency_ms',
      dimensions: { service: 'customer', target: 'service' },
      statistic: 'p95',
    });
    const rate = gateway.metricShadowMismatchRate('customer');
    expect(
      Object.values(rate.usingMetrics)
        .map((m) => (m as Metric).metricName)
        .sort(),
    ).toEqual(['gateway_shadow_compared_total', 'gateway_shadow_mismatch_total']);
  });

  it('rejects unknown services in upstreams and subnets without a VPC', () => {
    expect(() => synth({ upstreams: { nope: { serviceUrl: 'https://x' } } })).toThrow(
      /unknown service "nope"/,
    );
    expect(() => synth({ vpcSubnets: { subnetGroupName: 'x' } })).toThrow(/need vpc/);
  });

  it('passes the AwsSolutions cdk-nag pack', () => {
    const { app } = synth({}, true);
    expect(() => app.synth()).not.toThrow();
  });
});
