import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isSkjoldError } from '../lib/errors.ts';
import { openKeyStore } from '../pseudonymizer/keystore.ts';
import { createSealer, SHREDDED } from './sealing.ts';

const root = await mkdtemp(join(tmpdir(), 'skjold-sealing-'));
after(() => rm(root, { recursive: true, force: true }));
const keys = await openKeyStore({ file: join(root, 'keys.json') });
await keys.ensureTenant('acme');
await keys.ensureTenant('other');
const sealer = createSealer(keys);
const refused = (err: unknown) => isSkjoldError(err, 'SKJOLD_ERR_KEYS');

test('a sealed value opens for its tenant and context, and shows nothing of the value', () => {
  const sealed = sealer.seal('acme', 'device:d1:wmbus', 'KAM12345678');
  assert.match(sealed, /^v1\.[A-Za-z0-9_-]+$/);
  assert.ok(!sealed.includes('12345678'));
  assert.notEqual(sealed, sealer.seal('acme', 'device:d1:wmbus', 'KAM12345678'), 'a fresh IV each time');
  assert.equal(sealer.unseal('acme', 'device:d1:wmbus', sealed), 'KAM12345678');
});

test('another tenant, another context or a changed byte does not open it', () => {
  const sealed = sealer.seal('acme', 'device:d1:wmbus', 'KAM12345678');
  assert.throws(() => sealer.unseal('other', 'device:d1:wmbus', sealed), refused);
  assert.throws(() => sealer.unseal('acme', 'device:d2:wmbus', sealed), refused);
  const body = sealed.slice(3);
  const flipped = `v1.${body[0] === 'A' ? 'B' : 'A'}${body.slice(1)}`;
  assert.throws(() => sealer.unseal('acme', 'device:d1:wmbus', flipped), refused);
});

test('values sealed before a key rotation still open after it', async () => {
  const old = sealer.seal('acme', 'special:n1', 'warn before disconnection');
  await keys.rotate('acme');
  const fresh = sealer.seal('acme', 'special:n1', 'warn before disconnection');
  assert.match(fresh, /^v2\./);
  assert.equal(sealer.unseal('acme', 'special:n1', old), 'warn before disconnection');
  assert.equal(sealer.unseal('acme', 'special:n1', fresh), 'warn before disconnection');
});

test('a subject pseudonym is stable per key version and differs between tenants', () => {
  const a = sealer.subjectPseudonym('acme', 'kunde-1', 1);
  assert.equal(a, sealer.subjectPseudonym('acme', 'kunde-1', 1));
  assert.notEqual(a, sealer.subjectPseudonym('other', 'kunde-1', 1));
  assert.match(a, /^v1\.[a-z2-7]{26}$/);
  assert.deepEqual(sealer.subjectPseudonyms('acme', 'kunde-1')[0], a);
  assert.ok(!a.includes('kunde'));
});

test('once its key version is destroyed a sealed value reads SHREDDED; a damaged one still fails', async () => {
  await keys.ensureTenant('shred');
  const old = sealer.seal('shred', 'device:d9:iccid', '8945000000000000007');
  await keys.rotate('shred');
  const fresh = sealer.seal('shred', 'device:d9:iccid', '8945000000000000007');
  assert.equal(sealer.open('shred', 'device:d9:iccid', old), '8945000000000000007');
  await keys.destroy('shred', 1);
  assert.equal(sealer.shredded('shred', old), true);
  assert.equal(sealer.open('shred', 'device:d9:iccid', old), SHREDDED);
  assert.throws(() => sealer.unseal('shred', 'device:d9:iccid', old), refused);
  assert.equal(sealer.open('shred', 'device:d9:iccid', fresh), '8945000000000000007');
  const body = fresh.slice(3);
  const flipped = `v2.${body[0] === 'A' ? 'B' : 'A'}${body.slice(1)}`;
  assert.equal(sealer.shredded('shred', flipped), false);
  assert.throws(() => sealer.open('shred', 'device:d9:iccid', flipped), refused);
  assert.deepEqual(
    sealer.subjectPseudonyms('shred', 'kunde-1').map((p) => p.slice(0, 3)),
    ['v2.'],
  );
});
