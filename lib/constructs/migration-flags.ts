import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as appconfig from 'aws-cdk-lib/aws-appconfig';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  type FeatureFlagsDocument,
  type FlagServices,
  initialFlags,
  toFeatureFlagsDocument,
} from '../../lambdas/domain/flags.js';
import { RUNTIME_ENV } from '../spec/runtime.js';
import { acknowledgeControl } from './encryption.js';

/** AppConfig allows at most five monitors per environment. */
export const MAX_MONITORS = 5;

export interface GradualStrategyProps {
  /** Time to reach 100 % of clients. @default Duration.minutes(2) */
  readonly deploymentDuration?: Duration;
  /** Bake time after 100 %, during which the monitors can still roll back. @default Duration.minutes(10) */
  readonly finalBakeTime?: Duration;
  /** Percentage of clients added per step. @default 50 */
  readonly growthFactor?: number;
}

export interface MigrationFlagsProps {
  /** The migration: its services get a read and a write flag each. */
  readonly spec: FlagServices & { readonly name: string };
  /** Stage name: the AppConfig environment's name. */
  readonly stage: string;
  /** The alarms AppConfig watches during deployments and bake (one per service). @default - none */
  readonly monitors?: readonly cloudwatch.IAlarm[];
  /** The gradual (rollout) strategy. @default - 2 min, bake 10 min, 50 % steps */
  readonly gradual?: GradualStrategyProps;
  /** A Lambda validator AppConfig runs on every new version (beyond the built-in schema). @default - none */
  readonly validator?: lambda.IFunction;
  /**
   * Deploy the initial version (0 % / legacy) when the stack is created. A new version (for
   * example after adding a service) is deployed too, which resets every flag: see the docs.
   * @default true
   */
  readonly deployInitialVersion?: boolean;
}

/**
 * The migration's feature flags in AppConfig: an application, the stage's environment whose
 * monitors are the services' rollback alarms, an `AWS.AppConfig.FeatureFlags` profile generated
 * from the spec (constraints on every attribute, so the console rejects bad values), its initial
 * hosted version, and two deployment strategies: `gradual` for rollouts and `rollback`
 * (all at once, zero bake) for rollbacks.
 */
export class MigrationFlags extends Construct {
  readonly application: appconfig.CfnApplication;
  readonly environment: appconfig.CfnEnvironment;
  readonly profile: appconfig.CfnConfigurationProfile;
  readonly initialVersion: appconfig.CfnHostedConfigurationVersion;
  readonly gradualStrategy: appconfig.CfnDeploymentStrategy;
  readonly rollbackStrategy: appconfig.CfnDeploymentStrategy;
  /** The role AppConfig assumes to read the monitor alarms. */
  readonly monitorRole?: iam.Role;
  /** The document of the initial version. */
  readonly initialDocument: FeatureFlagsDocument;
  readonly applicationId: string;
  readonly environmentId: string;
  readonly profileId: string;
  readonly gradualStrategyId: string;
  readonly rollbackStrategyId: string;
  /** The gradual strategy's deployment time plus its final bake: the longest a rollout step waits. */
  readonly gradualDeploymentTime: Duration;

  constructor(scope: Construct, id: string, props: MigrationFlagsProps) {
    super(scope, id);
    const monitors = props.monitors ?? [];
    if (monitors.length > MAX_MONITORS) {
      throw new Error(
        `MigrationFlags: ${monitors.length} monitors, AppConfig allows ${MAX_MONITORS}; combine them into composite alarms`,
      );
    }
    const growth = props.gradual?.growthFactor ?? 50;
    if (growth <= 0 || growth > 100)
      throw new Error('MigrationFlags: gradual.growthFactor must be in (0, 100]');
    const duration = props.gradual?.deploymentDuration ?? Duration.minutes(2);
    const bake = props.gradual?.finalBakeTime ?? Duration.minutes(10);
    if (duration.toMinutes() > 1440 || bake.toMinutes() > 1440) {
      throw new Error('MigrationFlags: AppConfig allows at most 24 h of deployment and bake time');
    }
    this.gradualDeploymentTime = duration.plus(bake);
    const prefix = `cutover-${props.stage}-${props.spec.name}`;

    this.application = new appconfig.CfnApplication(this, 'Application', {
      name: prefix,
      description: `Feature flags of the ${props.spec.name} migration (${props.stage})`,
    });
    if (monitors.length) {
      this.monitorRole = new iam.Role(this, 'MonitorRole', {
        assumedBy: new iam.ServicePrincipal('appconfig.amazonaws.com'),
        description: 'Lets AppConfig read the rollback alarms of the migration',
      });
      this.monitorRole.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['cloudwatch:DescribeAlarms'],
          resources: monitors.map((a) => a.alarmArn),
        }),
      );
    }
    this.environment = new appconfig.CfnEnvironment(this, 'Environment', {
      applicationId: this.application.ref,
      name: props.stage,
      description: `${props.stage}: monitors roll a flag deployment back while it deploys and bakes`,
      monitors: monitors.map((a) => ({ alarmArn: a.alarmArn, alarmRoleArn: this.monitorRole!.roleArn })),
    });
    this.profile = new appconfig.CfnConfigurationProfile(this, 'Profile', {
      applicationId: this.application.ref,
      name: 'flags',
      description:
        'Per service: <service>_read {percentage 0-100}, <service>_write {mode legacy|shadow|primary}',
      locationUri: 'hosted',
      type: 'AWS.AppConfig.FeatureFlags',
      validators: props.validator ? [{ type: 'LAMBDA', content: props.validator.functionArn }] : undefined,
    });
    if (props.validator) {
      props.validator.addPermission('AppConfigValidates', {
        principal: new iam.ServicePrincipal('appconfig.amazonaws.com'),
        sourceAccount: Stack.of(this).account,
      });
      acknowledgeControl(
        props.validator.node.findChild('AppConfigValidates'),
        'lambda_function_public_access_prohibited_check',
        'The permission is limited by SourceAccount to this stack’s account; the account is resolved at deployment (environment-agnostic stacks), which the static rule cannot read.',
      );
    }
    this.initialDocument = toFeatureFlagsDocument(props.spec, initialFlags(props.spec));
    this.initialVersion = new appconfig.CfnHostedConfigurationVersion(this, 'InitialVersion', {
      applicationId: this.application.ref,
      configurationProfileId: this.profile.ref,
      contentType: 'application/json',
      content: JSON.stringify(this.initialDocument),
      description: 'initial: every service 0 % / legacy',
    });
    // Rollbacks read older versions: keep them when CloudFormation replaces this one.
    this.initialVersion.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.gradualStrategy = new appconfig.CfnDeploymentStrategy(this, 'GradualStrategy', {
      name: `${prefix}-gradual`,
      description: 'Rollouts: linear growth, then a bake watched by the monitors',
      deploymentDurationInMinutes: duration.toMinutes(),
      finalBakeTimeInMinutes: bake.toMinutes(),
      growthFactor: growth,
      growthType: 'LINEAR',
      replicateTo: 'NONE',
    });
    this.rollbackStrategy = new appconfig.CfnDeploymentStrategy(this, 'RollbackStrategy', {
      name: `${prefix}-rollback`,
      description: 'Rollbacks: all clients at once, no bake',
      deploymentDurationInMinutes: 0,
      finalBakeTimeInMinutes: 0,
      growthFactor: 100,
      growthType: 'LINEAR',
      replicateTo: 'NONE',
    });
    if (props.deployInitialVersion ?? true) {
      new appconfig.CfnDeployment(this, 'InitialDeployment', {
        applicationId: this.application.ref,
        environmentId: this.environment.ref,
        configurationProfileId: this.profile.ref,
        configurationVersion: this.initialVersion.ref,
        deploymentStrategyId: this.rollbackStrategy.ref,
        description: 'initial flags',
      });
    }
    this.applicationId = this.application.ref;
    this.environmentId = this.environment.ref;
    this.profileId = this.profile.ref;
    this.gradualStrategyId = this.gradualStrategy.ref;
    this.rollbackStrategyId = this.rollbackStrategy.ref;
  }

  private arn(resourceName: string): string {
    return Stack.of(this).formatArn({ service: 'appconfig', resource: 'application', resourceName });
  }

  get applicationArn(): string {
    return this.arn(this.applicationId);
  }
  get environmentArn(): string {
    return this.arn(`${this.applicationId}/environment/${this.environmentId}`);
  }
  get profileArn(): string {
    return this.arn(`${this.applicationId}/configurationprofile/${this.profileId}`);
  }
  strategyArn(strategyId: string): string {
    return Stack.of(this).formatArn({
      service: 'appconfig',
      resource: 'deploymentstrategy',
      resourceName: strategyId,
    });
  }

  /** The `RUNTIME_ENV` variables a function needs to use the flags. */
  runtimeEnvironment(): Record<string, string> {
    return {
      [RUNTIME_ENV.appConfigApplicationId]: this.applicationId,
      [RUNTIME_ENV.appConfigEnvironmentId]: this.environmentId,
      [RUNTIME_ENV.appConfigProfileId]: this.profileId,
      [RUNTIME_ENV.rolloutStrategyId]: this.gradualStrategyId,
      [RUNTIME_ENV.rollbackStrategyId]: this.rollbackStrategyId,
    };
  }

  /**
   * Lets a principal change flags: create hosted versions, start, stop and watch deployments
   * with the two strategies. (The rollout state machine and the rollback Lambda.)
   */
  grantDeploy(grantee: iam.IGrantable): iam.Grant {
    const grants = [
      iam.Grant.addToPrincipal({
        grantee,
        actions: [
          'appconfig:CreateHostedConfigurationVersion',
          'appconfig:ListHostedConfigurationVersions',
          'appconfig:GetConfigurationProfile',
        ],
        resourceArns: [this.profileArn],
      }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['appconfig:GetHostedConfigurationVersion'],
        resourceArns: [`${this.profileArn}/hostedconfigurationversion/*`],
      }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['appconfig:StartDeployment'],
        resourceArns: [
          this.environmentArn,
          this.profileArn,
          this.strategyArn(this.gradualStrategyId),
          this.strategyArn(this.rollbackStrategyId),
        ],
      }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['appconfig:ListDeployments', 'appconfig:GetEnvironment'],
        resourceArns: [this.environmentArn],
      }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['appconfig:GetDeployment', 'appconfig:StopDeployment'],
        resourceArns: [`${this.environmentArn}/deployment/*`],
      }),
    ];
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      // Deployment numbers and hosted versions are created at run time: only a wildcard names them.
      const stack = Stack.of(this);
      const id = (r: { logicalId: string }) => `<${stack.resolve(r.logicalId)}>`;
      const app = `arn:<AWS::Partition>:appconfig:<AWS::Region>:<AWS::AccountId>:application/${id(this.application)}`;
      for (const resource of [
        `${app}/configurationprofile/${id(this.profile)}/hostedconfigurationversion/*`,
        `${app}/environment/${id(this.environment)}/deployment/*`,
      ]) {
        Validations.of(principal).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${resource}]`,
          reason:
            'Scoped to this application, profile and environment; hosted version and deployment numbers are assigned at run time, so they can only be named by a wildcard.',
        });
      }
    }
    return grants.reduce((a, b) => a.combine(b));
  }

  /** Lets a principal read the deployed flags through AppConfig Data (the gateway router). */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['appconfig:StartConfigurationSession', 'appconfig:GetLatestConfiguration'],
      resourceArns: [`${this.environmentArn}/configuration/${this.profileId}`],
    });
  }
}
