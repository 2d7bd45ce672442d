// The AWS SDK's default credential chain as a bundled function needs it: environment variables
// only. Lambda always gives a function its execution role's credentials in AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (reserved runtime variables:
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
// the first link of the SDK's own chain
// (@aws-sdk/credential-provider-node), so the other links (SSO, ini files, process, web
// identity, container/IMDS, with the STS/SSO clients they carry, 108-133 KiB) never run in a
// function; bundled, they were parsed at every cold start all the same. Without those variables
// the SDK fails with "Unable to find environment variable credentials.", never with other
// credentials. Aliased by CREDENTIALS_ENV_ONLY in lib/constructs/cutover-function.ts.
import { fromEnv } from '@aws-sdk/credential-provider-env';

/** `defaultProvider` of @aws-sdk/credential-provider-node, reduced to its first link. */
export const defaultProvider = (init = {}) => fromEnv(init);
