#!/usr/bin/env -S npx tsx
/** The CDK app (`cdk.json`): `npx cdk synth -c env=staging`, `npx cdk deploy -c env=prod --all`. */
import { reportConfigurationErrors } from '../lib/cli/config-errors.js';

// A bad spec or environment prints its message (every bad field named), not a stack trace.
await reportConfigurationErrors(async () => {
  const { buildApp } = await import('../lib/app.js');
  buildApp().app.synth();
});
