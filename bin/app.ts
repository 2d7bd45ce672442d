#!/usr/bin/env -S npx tsx
/** The CDK app (`cdk.json`): `npx cdk synth -c env=staging`, `npx cdk deploy -c env=prod --all`. */
import { buildApp } from '../lib/app.js';

buildApp().app.synth();
