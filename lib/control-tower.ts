/**
 * AWS Control Tower's proactive controls, run at synthesis by `@cdklabs/cdk-validator-cfnguard`
 * beside cdk-nag: a finding of an enabled rule fails synthesis. Each disabled rule is listed
 * here with the reason a security reviewer reads (and the README's security section repeats);
 * findings on single resources are acknowledged where they are built (`acknowledgeControl`).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import type {
  IPolicyValidationContextBeta1,
  IPolicyValidationPluginBeta1,
  PolicyValidationPluginReportBeta1,
} from 'aws-cdk-lib';

/** A Control Tower rule switched off for some stages, and why. */
export interface DisabledControl {
  /** The rule file's name, as the validator's `disabledRules` takes it. */
  readonly rule: string;
  /** The control's id in AWS's documentation. */
  readonly control: string;
  /** The environments (cdk.json `context.environments`) it is off in; on everywhere else. */
  readonly stages: readonly string[];
  readonly reason: string;
}

export const DISABLED_CONTROLS: readonly DisabledControl[] = [
  {
    rule: 'ct-cloudwatch-pr-2',
    control: 'CT.CLOUDWATCH.PR.2',
    stages: ['dev', 'staging'],
    reason:
      'Log groups keep logs at least a year. Dev and staging keep them 14 and 30 days (cdk.json logRetentionDays): they hold test traffic only, and shorter retention limits cost and exposure; prod keeps 365 days and is checked.',
  },
];

/** The bundled Control Tower rule files (`.../ct-<service>-pr-<n>.guard`). */
function controlTowerRuleFiles(): string[] {
  const pkg = createRequire(import.meta.url).resolve('@cdklabs/cdk-validator-cfnguard/package.json');
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.guard')) files.push(path);
    }
  };
  walk(join(dirname(pkg), 'rules', 'control-tower', 'cfn-guard'));
  return files.sort();
}

/**
 * Every Control Tower rule, but those disabled for the stage, run by the package's cfn-guard.
 * Each rule file names the resource types it checks (`"AWS::S3::Bucket"`); a rule none of whose
 * types occurs in the templates cannot find anything, so only the others are handed to
 * cfn-guard (a third of the CPU time of all 300).
 */
export class ControlTowerValidator implements IPolicyValidationPluginBeta1 {
  /** The validator package's name: acknowledgements are `cdk-validator-cfnguard::<rule>`. */
  readonly name = 'cdk-validator-cfnguard';
  private readonly rules: ReadonlyArray<{ path: string; types: readonly string[] }>;

  constructor(readonly disabledRules: readonly string[]) {
    this.rules = controlTowerRuleFiles()
      .filter((path) => !disabledRules.includes(basename(path, '.guard')))
      .map((path) => ({
        path,
        types: [...readFileSync(path, 'utf8').matchAll(/"(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)"/g)].map(
          (m) => m[1]!,
        ),
      }));
  }

  validate(context: IPolicyValidationContextBeta1): PolicyValidationPluginReportBeta1 {
    const present = new Set<string>();
    for (const template of context.templatePaths) {
      const t = JSON.parse(readFileSync(template, 'utf8')) as {
        Resources?: Record<string, { Type: string }>;
      };
      for (const r of Object.values(t.Resources ?? {})) present.add(r.Type);
    }
    const rules = this.rules.filter((r) => r.types.length === 0 || r.types.some((t) => present.has(t)));
    const report = new CfnGuardValidator({
      controlTowerRulesEnabled: false,
      rules: rules.map((r) => r.path),
      // cfn-guard's JSON report of a whole environment exceeds Node's default 1 MB buffer.
      maxBuffer: 64 * 1024 * 1024,
    }).validate(context);
    // The plugin leaves `severity` unset. Once any finding is acknowledged, CDK recomputes the
    // report's success from the severities, and an unset one does not count as an error: the
    // remaining findings would pass. Every Control Tower finding is an error.
    return {
      ...report,
      violations: report.violations.map((v) => ({ ...v, severity: v.severity ?? 'error' })),
    };
  }
}

/** The validator for one stage: every Control Tower rule but those disabled for it. */
export function controlTowerValidator(stage: string): ControlTowerValidator {
  return new ControlTowerValidator(
    DISABLED_CONTROLS.filter((d) => d.stages.includes(stage)).map((d) => d.rule),
  );
}
