/**
 * The AppConfig stand-ins against recorded AppConfig payloads (test/contracts/appconfig/, each
 * file names its source): the control-plane fake (test/support/fake-appconfig.ts) answers with
 * exactly the recorded shapes and the real SDK error; the real adapter maps the recorded answers;
 * the flag readers accept the stored and the retrieved FeatureFlags forms, a disabled flag being
 * 0 % / legacy; the AppConfig Data fake the gateway tests use serves the recorded response shape.
 */
import {
  AppConfigClient,
  ConflictException,
  CreateHostedConfigurationVersionCommand,
  GetDeploymentCommand,
  GetHostedConfigurationVersionCommand,
  ListDeploymentsCommand,
  StartDeploymentCommand,
  StopDeploymentCommand,
} from '@aws-sdk/client-appconfig';
import { afterEach, describe, expect, it } from 'vitest';
import { AppConfigFlagStore } from '../../lambdas/adapters/appconfig.js';
import { AppConfigFlagSource } from '../../lambdas/adapters/appconfig-data.js';
import {
  effectiveFlags,
  type FeatureFlagsDocument,
  initialFlags,
  parseFeatureFlagsDocument,
  serviceFlagsOf,
  toFeatureFlagsDocument,
  withServiceFlags,
} from '../../lambdas/domain/flags.js';
import { routingFlagsFromAppConfig } from '../../lambdas/domain/routing.js';
import { validateFlagsContent } from '../../lambdas/handlers/flags-validator.js';
import { magento, menu } from '../../migrations/index.js';
import { contract } from '../support/contracts.js';
import { FAKE_IDS, FakeAppConfig, retrievedForm } from '../support/fake-appconfig.js';
import { type FakeAppConfigData, flagValues, startAppConfigData } from '../support/gateway-fakes.js';

interface Recorded {
  readonly input: Record<string, unknown>;
  readonly output: Record<string, unknown>;
}

/** A real SDK client whose HTTP layer answers with one recorded response (nothing leaves the process). */
function recordedClient(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new AppConfigClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: {
      handle: async () => ({
        response: {
          statusCode: status,
          headers: { 'content-type': 'application/json', ...headers },
          body: new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body)),
        },
      }),
    },
  });
}

/** The shape of a value: key -> type, recursively (timestamps in both forms count as `time`). */
function shape(value: unknown): unknown {
  if (value instanceof Date) return 'time';
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(value)) return 'time';
  if (Array.isArray(value)) return value.length ? [shape(value[0])] : [];
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, shape(v)]),
    );
  }
  return typeof value;
}

const doc = toFeatureFlagsDocument(magento, initialFlags(magento));

/** The rule the recorded payload shows: values only, a disabled flag is `{ enabled: false }` alone. */
const retrievedRule = (p: Record<string, Record<string, unknown>>) =>
  Object.values(p).every(
    (v) => typeof v['enabled'] === 'boolean' && (v['enabled'] || Object.keys(v).join() === 'enabled'),
  );

describe('Contract: AppConfig control plane (fake and adapter)', () => {
  it('ListDeployments: the fake answers in the recorded shape, and the SDK reads the recorded answer the same way', async () => {
    const recorded = contract<Recorded>('appconfig/list-deployments.json');
    const viaSdk = await recordedClient(200, recorded.output).send(
      new ListDeploymentsCommand(recorded.input as never),
    );
    const fake = new FakeAppConfig(doc);
    const fromFake = await fake.client.send(
      new ListDeploymentsCommand({
        ApplicationId: FAKE_IDS.application,
        EnvironmentId: FAKE_IDS.environment,
      }),
    );
    const { $metadata: _m, ...sdkOutput } = viaSdk;
    expect(shape(fromFake)).toEqual(shape(sdkOutput));
    expect(shape(fromFake)).toEqual(shape(recorded.output));
    expect(viaSdk.Items?.[0]?.StartedAt).toBeInstanceOf(Date);
  });

  it('GetDeployment, StartDeployment, StopDeployment: the fake answers in the recorded shapes', async () => {
    const fake = new FakeAppConfig(doc);
    const ids = { ApplicationId: FAKE_IDS.application, EnvironmentId: FAKE_IDS.environment };
    const started = await fake.client.send(
      new StartDeploymentCommand({
        ...ids,
        ConfigurationProfileId: FAKE_IDS.profile,
        ConfigurationVersion: '1',
        DeploymentStrategyId: FAKE_IDS.strategies.gradual,
      }),
    );
    expect(shape(started)).toEqual(shape(contract<Recorded>('appconfig/start-deployment.json').output));
    fake.advance('2');
    fake.advance('2');
    const get = await fake.client.send(new GetDeploymentCommand({ ...ids, DeploymentNumber: 2 }));
    expect(shape(get)).toEqual(shape(contract<Recorded>('appconfig/get-deployment.json').output));
    await fake.client.send(
      new StartDeploymentCommand({
        ...ids,
        ConfigurationProfileId: FAKE_IDS.profile,
        ConfigurationVersion: '1',
        DeploymentStrategyId: FAKE_IDS.strategies.gradual,
      }),
    );
    const stopped = await fake.client.send(new StopDeploymentCommand({ ...ids, DeploymentNumber: 3 }));
    expect(shape(stopped)).toEqual(shape(contract<Recorded>('appconfig/stop-deployment.json').output));
  });

  it('hosted versions: created and read in the recorded shapes (GetHostedConfigurationVersion adds its Content body)', async () => {
    const fake = new FakeAppConfig(doc);
    const ids = { ApplicationId: FAKE_IDS.application, ConfigurationProfileId: FAKE_IDS.profile };
    const created = await fake.client.send(
      new CreateHostedConfigurationVersionCommand({
        ...ids,
        Content: new TextEncoder().encode(JSON.stringify(doc)),
        ContentType: 'application/json',
      }),
    );
    expect(shape(created)).toEqual(
      shape(contract<Recorded>('appconfig/create-hosted-configuration-version.json').output),
    );
    const { Content, ...read } = await fake.client.send(
      new GetHostedConfigurationVersionCommand({ ...ids, VersionNumber: created.VersionNumber }),
    );
    expect(shape(read)).toEqual(
      shape(contract<Recorded>('appconfig/get-hosted-configuration-version.json').output),
    );
    expect(parseFeatureFlagsDocument(Content!)).toEqual(doc);
  });

  it('a second deployment while one is in progress: the same ConflictException (409) the SDK makes of the recorded answer', async () => {
    const recorded = contract<{
      response: { status: number; headers: Record<string, string>; body: unknown };
    }>('appconfig/start-deployment-conflict.json');
    const real = await recordedClient(
      recorded.response.status,
      recorded.response.body,
      recorded.response.headers,
    )
      .send(
        new StartDeploymentCommand({
          ApplicationId: 'abc1234',
          EnvironmentId: 'env5678',
          ConfigurationProfileId: 'prf9012',
          ConfigurationVersion: '1',
          DeploymentStrategyId: 'grd3456',
        }),
      )
      .then(
        () => undefined,
        (e: unknown) => e as ConflictException,
      );
    expect(real).toBeInstanceOf(ConflictException);

    const fake = new FakeAppConfig(doc);
    await fake.startDeployment(1, 'gradual');
    const fromFake = await fake.startDeployment(1, 'rollback').then(
      () => undefined,
      (e: unknown) => e as ConflictException,
    );
    expect(fromFake).toBeInstanceOf(ConflictException);
    for (const e of [real, fromFake]) {
      expect(e).toMatchObject({
        name: 'ConflictException',
        $fault: 'client',
        $metadata: { httpStatusCode: 409 },
      });
    }
    expect(real?.message).toBe('Deployment number 1 already exists');
    expect(fromFake?.message).toMatch(/^Deployment number \d+ already exists$/);
  });

  it('the adapter maps the recorded ListDeployments + GetDeployment answers to the port', async () => {
    const list = contract<Recorded>('appconfig/list-deployments.json');
    const get = contract<Recorded>('appconfig/get-deployment.json');
    const answers: Record<string, Recorded> = { ListDeployments: list, GetDeployment: get };
    const client = {
      send: async (command: { constructor: { name: string }; input: object }) => {
        const name = command.constructor.name.replace(/Command$/, '');
        const recorded = answers[name];
        if (!recorded) throw new Error(`unexpected ${name}`);
        // what the SDK hands over: the recorded wire JSON, deserialized by the real SDK
        const { $metadata: _m, ...out } = await recordedClient(200, recorded.output).send(command as never);
        return out;
      },
    } as unknown as AppConfigClient;
    const store = new AppConfigFlagStore({
      applicationId: '339ohji',
      environmentId: '54j1r29',
      profileId: 'ur8hx2f',
      strategies: { gradual: 'grd3456', rollback: 'rbk7890' },
      client,
    });
    const history = [];
    for await (const d of store.deploymentHistory()) history.push(d);
    expect(history).toEqual([
      {
        id: '1',
        version: 1,
        state: 'COMPLETE',
        strategy: 'other',
        startedAt: '2021-09-17T21:43:54.205Z',
        completedAt: '2021-09-17T21:59:03.888Z',
      },
    ]);
  });
});

describe('Contract: FeatureFlags documents, stored and retrieved', () => {
  const retrieved = contract<{ payload: Record<string, Record<string, unknown>> }>(
    'appconfig/feature-flags-retrieved.json',
  ).payload;

  it('the recorded retrieved form has a disabled flag with no attributes, as retrievedForm() serves ours', () => {
    expect(retrieved['allow_mobile_payments']).toEqual({ enabled: false });
    expect(retrievedRule(retrieved)).toBe(true);
    const served = retrievedForm(
      withServiceFlags(doc, 'customer', {
        read: { enabled: true, percentage: 10 },
        write: { enabled: true, mode: 'shadow' },
      }),
    );
    expect(retrievedRule(served)).toBe(true);
    expect(served['catalog_read']).toEqual({ enabled: false });
    expect(served['customer_read']).toEqual({ enabled: true, percentage: 10 });
  });

  it('the gateway reads the retrieved form: disabled flags are 0 % / legacy and do not sink the others', () => {
    const payload = {
      ...retrievedForm(doc),
      customer_read: { enabled: true, percentage: 25 },
      customer_write: { enabled: true, mode: 'shadow' },
    };
    const flags = routingFlagsFromAppConfig(
      payload,
      magento.services.map((s) => s.name),
    );
    expect(flags['customer']).toEqual({
      read: { enabled: true, percentage: 25 },
      write: { enabled: true, mode: 'shadow' },
    });
    expect(effectiveFlags(flags['catalog']!)).toEqual({ readPercentage: 0, writeMode: 'legacy' });
    expect(effectiveFlags(flags['order']!)).toEqual({ readPercentage: 0, writeMode: 'legacy' });
    // the kill switch: a flag disabled in the console is served without its attribute
    const killed = routingFlagsFromAppConfig(
      { ...payload, customer_write: { enabled: false } },
      magento.services.map((s) => s.name),
    );
    expect(effectiveFlags(killed['customer']!)).toEqual({ readPercentage: 25, writeMode: 'legacy' });
    // an enabled flag without its attribute is still an error, naming the field
    expect(() => routingFlagsFromAppConfig({ customer_read: { enabled: true } }, ['customer'])).toThrow(
      'customer.read.percentage',
    );
  });

  it('the stored form: a disabled flag whose value has no attribute is 0 % / legacy for every reader', async () => {
    const stored = contract<{ constructed: FeatureFlagsDocument }>(
      'appconfig/feature-flags-stored.json',
    ).constructed;
    const parsed = parseFeatureFlagsDocument(stored);
    expect(serviceFlagsOf(parsed, 'menu')).toEqual({
      read: { enabled: false, percentage: 0 },
      write: { enabled: false, mode: 'legacy' },
    });
    // the profile's validator accepts it, and so does AppConfig (the fake validates on create)
    expect(() =>
      validateFlagsContent(menu, Buffer.from(JSON.stringify(stored)).toString('base64')),
    ).not.toThrow();
    const fake = new FakeAppConfig(toFeatureFlagsDocument(menu, initialFlags(menu)));
    const version = await fake.createVersion(parsed);
    expect(serviceFlagsOf(await fake.getVersion(version), 'menu').write.mode).toBe('legacy');
  });
});

describe('Contract: AppConfig Data (the gateway tests’ fake)', () => {
  let data: FakeAppConfigData | undefined;
  afterEach(async () => {
    await data?.close();
    data = undefined;
  });

  it('serves GetLatestConfiguration with the recorded headers, and the gateway reads the retrieved form through it', async () => {
    const recorded = contract<{ response: { headers: Record<string, string> } }>(
      'appconfig/get-latest-configuration.json',
    );
    let now = 0;
    data = await startAppConfigData(() => now);
    data.deploy(retrievedForm(toFeatureFlagsDocument(magento, initialFlags(magento))));
    const session = await fetch(`${data.url}/configurationsessions`, {
      method: 'POST',
      body: JSON.stringify({
        ApplicationIdentifier: 'a',
        EnvironmentIdentifier: 'e',
        ConfigurationProfileIdentifier: 'p',
        RequiredMinimumPollIntervalInSeconds: 15,
      }),
    }).then((r) => r.json() as Promise<{ InitialConfigurationToken: string }>);
    const res = await fetch(
      `${data.url}/configuration?configuration_token=${session.InitialConfigurationToken}`,
    );
    for (const header of Object.keys(recorded.response.headers)) expect(res.headers.get(header)).toBeTruthy();
    const served = (await res.json()) as Record<string, Record<string, unknown>>;
    expect(retrievedRule(served)).toBe(true);

    // end to end through the real adapter: the disabled services are on legacy, no error
    const source = new AppConfigFlagSource({
      client: data.client,
      applicationId: 'a',
      environmentId: 'e',
      profileId: 'p',
      services: magento.services.map((s) => s.name),
      pollIntervalSeconds: 5,
      clock: () => now,
    });
    now = 1_000;
    data.deploy({
      ...retrievedForm(toFeatureFlagsDocument(magento, initialFlags(magento))),
      ...flagValues('customer', { percentage: 10 }, { mode: 'shadow' }),
      ...flagValues('order', { enabled: false, percentage: 50 }, { enabled: false, mode: 'primary' }),
    });
    await source.refresh();
    const snapshot = source.snapshot();
    expect(snapshot.stale).toBe(false);
    expect(effectiveFlags(snapshot.flags['customer']!)).toEqual({ readPercentage: 10, writeMode: 'shadow' });
    expect(effectiveFlags(snapshot.flags['order']!)).toEqual({ readPercentage: 0, writeMode: 'legacy' });
  });
});
