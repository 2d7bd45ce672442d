/**
 * The AppConfig control-plane stand-in the tests use is the rehearsal's
 * (lib/rehearse/local-appconfig.ts), under the names the tests know it by.
 */
export {
  LOCAL_APPCONFIG_IDS as FAKE_IDS,
  LocalAppConfig as FakeAppConfig,
  type LocalAppConfigOptions as FakeAppConfigOptions,
  retrievedForm,
} from '../../lib/rehearse/local-appconfig.js';
