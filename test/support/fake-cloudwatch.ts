/** The CloudWatch stand-in the tests use is the rehearsal's (lib/rehearse/local-cloudwatch.ts). */
export { LocalCloudWatch as FakeCloudWatch } from '../../lib/rehearse/local-cloudwatch.js';
