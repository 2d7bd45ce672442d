/**
 * Sealing personal fields at rest (issue 17, item 3): the envelope cipher (AES-256-GCM, data
 * keys from KMS or a local key), what the sealer seals in a sync state and a parked conflict, and
 * the KMS adapter against the GenerateDataKey response recorded in test/contracts/kms/.
 */
import type { DecryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import {
  EnvelopeCipher,
  encryptionContextOf,
  KmsDataKeys,
  LocalDataKeys,
  SealedValueError,
} from '../../lambdas/adapters/field-cipher.js';
import type { SyncState } from '../../lambdas/domain/conflict.js';
import { PersonalDataSealer, personalFields } from '../../lambdas/domain/personal-data.js';
import type { ParkedConflictRecord, SealContext } from '../../lambdas/domain/ports.js';
import { hasPersonalData } from '../../lib/spec/lookup.js';
import magento from '../../migrations/magento.js';
import menu from '../../migrations/menu.js';
import { contract } from '../support/contracts.js';

const ctx = (field = 'email', key = '42'): SealContext => ({
  purpose: 'sync-state',
  entity: 'customer',
  key,
  field,
});

describe('EnvelopeCipher', () => {
  it('opens what it sealed, for the same record and field only', async () => {
    const cipher = new EnvelopeCipher(new LocalDataKeys());
    const sealed = await cipher.seal('"jane@example.com"', ctx());
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('jane');
    expect(await cipher.open(sealed, ctx())).toBe('"jane@example.com"');
    await expect(cipher.open(sealed, ctx('firstName'))).rejects.toThrow(SealedValueError);
    await expect(cipher.open(sealed, ctx('email', '43'))).rejects.toThrow(SealedValueError);
    await expect(cipher.open(sealed, { ...ctx(), purpose: 'conflicts' })).rejects.toThrow();
    await expect(cipher.open('jane@example.com', ctx())).rejects.toThrow('not a sealed value');
  });

  it('reuses a data key for a while, and a role opens only the purposes its grant allows', async () => {
    const keys = new LocalDataKeys();
    let generated = 0;
    const counting = {
      generate: (p: SealContext['purpose']) => {
        generated++;
        return keys.generate(p);
      },
      decrypt: keys.decrypt.bind(keys),
    };
    let now = 0;
    const cipher = new EnvelopeCipher(counting, { dataKeyMaxAgeMs: 1000, dataKeyMaxUses: 3, now: () => now });
    for (let i = 0; i < 3; i++) await cipher.seal('"x"', ctx());
    expect(generated).toBe(1);
    await cipher.seal('"x"', ctx()); // fourth use: a new key
    expect(generated).toBe(2);
    now = 2000;
    await cipher.seal('"x"', ctx());
    expect(generated).toBe(3);

    const conflict: SealContext = { ...ctx(), purpose: 'conflicts' };
    const sealed = await cipher.seal('"jane@example.com"', conflict);
    const syncRole = new EnvelopeCipher(keys.withGrant(['sync-state']));
    await expect(syncRole.open(sealed, conflict)).rejects.toThrow(/may not decrypt conflicts/);
    expect(await new EnvelopeCipher(keys.withGrant(['conflicts'])).open(sealed, conflict)).toBe(
      '"jane@example.com"',
    );
  });
});

describe('KmsDataKeys (recorded GenerateDataKey response)', () => {
  const recorded = contract<{ response: { Plaintext: string; KeyId: string; CiphertextBlob: string } }>(
    'kms/generate-data-key.cli-doc.json',
  ).response;

  /** KMS as the SDK returns it: bytes; Decrypt needs the same encryption context (else it fails). */
  function fakeKms() {
    const sent: (GenerateDataKeyCommand | DecryptCommand)[] = [];
    const blob = Buffer.from(recorded.CiphertextBlob, 'base64');
    let context: Record<string, string> | undefined;
    return {
      sent,
      client: {
        send: async (command: GenerateDataKeyCommand | DecryptCommand) => {
          sent.push(command);
          if ('KeySpec' in command.input) {
            context = command.input.EncryptionContext;
            return {
              KeyId: recorded.KeyId,
              Plaintext: new Uint8Array(Buffer.from(recorded.Plaintext, 'base64')),
              CiphertextBlob: new Uint8Array(blob),
            };
          }
          const input = (command as DecryptCommand).input;
          if (
            !Buffer.from(input.CiphertextBlob!).equals(blob) ||
            JSON.stringify(input.EncryptionContext) !== JSON.stringify(context)
          ) {
            throw Object.assign(new Error('InvalidCiphertextException'), {
              name: 'InvalidCiphertextException',
            });
          }
          return {
            KeyId: recorded.KeyId,
            Plaintext: new Uint8Array(Buffer.from(recorded.Plaintext, 'base64')),
          };
        },
      },
    };
  }

  it('asks for an AES-256 data key under the purpose as encryption context, and decrypts it with it', async () => {
    const kms = fakeKms();
    const keyArn = 'arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const cipher = new EnvelopeCipher(new KmsDataKeys(keyArn, kms.client as never));
    const sealed = await cipher.seal('"jane@example.com"', ctx());
    // A second container: no cached key, so KMS Decrypt with the same context.
    const other = new EnvelopeCipher(new KmsDataKeys(keyArn, kms.client as never));
    expect(await other.open(sealed, ctx())).toBe('"jane@example.com"');
    expect(kms.sent.map((c) => c.input)).toEqual([
      { KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: { 'cutover:purpose': 'sync-state' } },
      {
        KeyId: keyArn,
        CiphertextBlob: expect.any(Uint8Array),
        EncryptionContext: encryptionContextOf('sync-state'),
      },
    ]);
    // The data key travels with the value, encrypted: the recorded CiphertextBlob.
    expect(Buffer.from(sealed.split('.')[1]!, 'base64url').toString('base64')).toBe(recorded.CiphertextBlob);
  });
});

describe('PersonalDataSealer', () => {
  const sealer = () => new PersonalDataSealer(magento, new EnvelopeCipher(new LocalDataKeys()));
  const state: SyncState = {
    bornOn: 'legacy',
    fields: {
      email: {
        value: 'jane@example.com',
        seen: { legacy: { at: 1, origin: 'legacy', seq: 1 } },
        lost: { service: 'j@x.io' },
      },
      firstName: { value: null, seen: {} },
      groupId: { value: 1, seen: {} },
    },
  };

  it('knows the personal fields from the spec', () => {
    const customer = magento.services[0]!.entities[0]!;
    expect([...personalFields(customer)]).toEqual(['email', 'firstName', 'lastName']);
    expect(hasPersonalData(magento)).toBe(true);
    expect(hasPersonalData(menu)).toBe(false);
  });

  it('seals the agreed and lost values of personal fields; null and other fields stay as they are', async () => {
    const s = sealer();
    const sealed = await s.sealState('customer', '42', state);
    expect(JSON.stringify(sealed)).not.toContain('jane');
    expect(JSON.stringify(sealed)).not.toContain('j@x.io');
    expect(sealed.fields['email']!.value).toEqual({ $sealed: expect.stringMatching(/^v1\./) });
    expect(sealed.fields['email']!.seen).toEqual(state.fields['email']!.seen);
    expect(sealed.fields['firstName']!.value).toBeNull();
    expect(sealed.fields['groupId']!.value).toBe(1);
    expect(sealed.bornOn).toBe('legacy');
    expect(await s.openState('customer', '42', sealed)).toEqual(state);
    // Sealed for record 42: record 43's state cannot carry it.
    await expect(s.openState('customer', '43', sealed)).rejects.toThrow(SealedValueError);
    // A state stored before sealing existed is read as it is.
    expect(await s.openState('customer', '42', state)).toEqual(state);
  });

  it("seals a parked conflict's values and its resolution, bound to the conflict", async () => {
    const s = sealer();
    const parked: ParkedConflictRecord = {
      conflictId: 'customer#42#email#abc',
      entity: 'customer',
      key: '42',
      field: 'email',
      legacy: { value: 'a@example.com', at: 1 },
      service: { value: 'b@example.com', at: 2 },
      eventId: 'e1',
      parkedAt: '2026-11-30T00:00:00.000Z',
    };
    const sealed = await s.sealConflict(parked);
    expect(JSON.stringify(sealed)).not.toMatch(/[ab]@example\.com/);
    const resolution = await s.sealResolution(parked, {
      choice: 'value',
      value: 'c@example.com',
      by: 'ops',
      at: 'now',
    });
    expect(JSON.stringify(resolution)).not.toContain('c@example.com');
    const opened = await s.openConflict({ ...sealed, status: 'resolving', resolution });
    expect(opened).toMatchObject({
      legacy: { value: 'a@example.com' },
      service: { value: 'b@example.com' },
      resolution: { value: 'c@example.com' },
    });
    await expect(
      s.openConflict({ ...sealed, conflictId: 'customer#42#email#other', status: 'open' }),
    ).rejects.toThrow(SealedValueError);
    // A field that is not personal (a price) stays readable.
    const price = {
      ...parked,
      entity: 'product',
      field: 'price',
      legacy: { value: '1.00' },
      service: { value: '2.00' },
    };
    expect(await s.sealConflict(price)).toEqual(price);
  });
});
