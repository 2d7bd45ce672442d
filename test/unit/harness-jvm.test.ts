import { describe, expect, it } from 'vitest';
import { dynamoJvmOptions } from '../support/databases.js';

const GiB = 2 ** 30;

describe('DynamoDB Local JVM options', () => {
  it('uses the parallel collector with a quarter of RAM as heap, half of it young', () => {
    expect(dynamoJvmOptions({}, 8 * GiB)).toEqual([
      '-XX:+UseParallelGC',
      '-Xms2048m',
      '-Xmx2048m',
      '-Xmn1024m',
    ]);
  });

  it('caps the heap at 4 GiB on a large machine and keeps 256 MiB on a tiny one', () => {
    expect(dynamoJvmOptions({}, 64 * GiB)).toContain('-Xmx4096m');
    expect(dynamoJvmOptions({}, 0.5 * GiB)).toEqual([
      '-XX:+UseParallelGC',
      '-Xms256m',
      '-Xmx256m',
      '-Xmn128m',
    ]);
  });

  it('CUTOVER_DYNAMO_JVM_OPTS replaces them', () => {
    expect(dynamoJvmOptions({ CUTOVER_DYNAMO_JVM_OPTS: ' -Xmx1g  -XX:+UseG1GC ' }, 8 * GiB)).toEqual([
      '-Xmx1g',
      '-XX:+UseG1GC',
    ]);
  });
});
