/**
 * The write mode a repair asks for (lambdas/adapters/appconfig-write-mode.ts), read through the
 * AppConfig Data stand-in that serves the recorded response shape (test/contracts/appconfig/):
 * the deployed `<service>_write` mode, `legacy` for a disabled flag, and WriteModeUnknownError
 * when AppConfig does not answer; no reader at all without the flag profile's ids.
 */
import { AppConfigDataClient } from '@aws-sdk/client-appconfigdata';
import { afterEach, describe, expect, it } from 'vitest';
import { WriteModeUnknownError, writeModeFromEnv } from '../../lambdas/adapters/appconfig-write-mode.js';
import { initialFlags, toFeatureFlagsDocument } from '../../lambdas/domain/flags.js';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import { magento } from '../../migrations/index.js';
import { retrievedForm } from '../support/fake-appconfig.js';
import { type FakeAppConfigData, flagValues, startAppConfigData } from '../support/gateway-fakes.js';

const ids = {
  [RUNTIME_ENV.appConfigApplicationId]: 'a',
  [RUNTIME_ENV.appConfigEnvironmentId]: 'e',
  [RUNTIME_ENV.appConfigProfileId]: 'p',
};

describe('Adapter: writeModeFromEnv (AppConfig Data)', () => {
  let data: FakeAppConfigData | undefined;
  afterEach(async () => {
    await data?.close();
    data = undefined;
  });

  it('reads the deployed write mode per service; a disabled write flag is legacy', async () => {
    data = await startAppConfigData(() => Date.now());
    data.deploy({
      ...retrievedForm(toFeatureFlagsDocument(magento, initialFlags(magento))),
      ...flagValues('customer', { percentage: 100 }, { mode: 'primary' }),
      ...flagValues('catalog', { percentage: 10 }, { mode: 'shadow' }),
      ...flagValues('order', { enabled: false, percentage: 0 }, { enabled: false, mode: 'primary' }),
    });
    const writeModeOf = writeModeFromEnv(magento, ids, data.client)!;
    expect(await writeModeOf('customer')).toBe('primary');
    expect(await writeModeOf('catalog')).toBe('shadow');
    expect(await writeModeOf('order')).toBe('legacy');
  });

  it('AppConfig not answering is WriteModeUnknownError, not "legacy" (which would let a repair run)', async () => {
    const unreachable = new AppConfigDataClient({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const writeModeOf = writeModeFromEnv(magento, ids, unreachable)!;
    await expect(writeModeOf('customer')).rejects.toThrow(WriteModeUnknownError);
    await expect(writeModeOf('customer')).rejects.toThrow(/write mode of customer could not be read/);
  });

  it('is not built without the flag profile ids (local runs)', () => {
    expect(writeModeFromEnv(magento, {})).toBeUndefined();
  });
});
