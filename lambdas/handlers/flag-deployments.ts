/** The flag profile's AppConfig port of the rollout tasks, built once per execution environment. */
import { appConfigPortFromEnv } from '../adapters/appconfig.js';
import type { FlagDeploymentPort } from '../domain/flags.js';

let flagPort: FlagDeploymentPort | undefined;
/** AppConfig hosted versions and deployments of the migration's flag profile. */
export function flagDeploymentsFromEnv(): FlagDeploymentPort {
  flagPort ??= appConfigPortFromEnv();
  return flagPort;
}
