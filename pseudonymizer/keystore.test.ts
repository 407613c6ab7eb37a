import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inspect } from 'node:util';
import { isSkjoldError } from '../lib/errors.ts';
import { AUDIT_DOMAIN, type KeyStore, openKeyStore } from './keystore.ts';

const root = await mkdtemp(join(tmpdir(), 'skjold-keystore-'));
after(() => rm(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `case-${++n}`);
const mode = async (path: string) => (await stat(path)).mode & 0o777;
const isCode = (code: 'SKJOLD_ERR_KEYS' | 'SKJOLD_ERR_KEY_VERSION', text?: RegExp) => (err: unknown) =>
  isSkjoldError(err, code) && (text === undefined || text.test(err.message));

function envJson(tenants: Record<string, { current: number; keys: Record<string, string> }>): string {
  return JSON.stringify({ format: 1, tenants });
}

test('a missing key file is created 0600 in a directory created 0700', async () => {
  const dir = freshDir();
  const file = join(dir, 'keys', 'keys.json');
  const store = await openKeyStore({ file });
  assert.equal(await mode(file), 0o600);
  assert.equal(await mode(join(dir, 'keys')), 0o700);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { format: 1, tenants: {} });
  assert.equal(store.readOnly, false);
});

test('a key file other users can read is refused, saying which mode and how to fix it', async () => {
  const file = join(freshDir(), 'keys.json');
  await openKeyStore({ file });
  for (const bad of [0o644, 0o640, 0o604]) {
    await chmod(file, bad);
    const shown = `0${bad.toString(8)}`;
    await assert.rejects(
      openKeyStore({ file }),
      isCode('SKJOLD_ERR_KEYS', new RegExp(`mode ${shown}.*chmod 600`)),
    );
  }
  await chmod(file, 0o400); // read-only for the owner is fine
  await openKeyStore({ file });
});

test('ensureTenant creates version 1 once; rotate adds versions and keeps the old ones readable', async () => {
  const file = join(freshDir(), 'keys.json');
  const times = [new Date('2026-01-01T00:00:00Z'), new Date('2026-06-01T00:00:00Z')];
  let tick = 0;
  const store = await openKeyStore({ file, now: () => times[tick++] ?? new Date() });
  await store.ensureTenant('fjernvarme-nord');
  const v1 = store.secret('fjernvarme-nord', 1);
  await store.ensureTenant('fjernvarme-nord'); // idempotent
  assert.equal(v1.length, 32);
  assert.deepEqual(store.versions('fjernvarme-nord'), [1]);

  assert.equal(await store.rotate('fjernvarme-nord'), 2);
  assert.equal(store.currentVersion('fjernvarme-nord'), 2);
  assert.deepEqual(store.versions('fjernvarme-nord'), [1, 2]);
  assert.deepEqual(store.secret('fjernvarme-nord', 1), v1);
  assert.notDeepEqual(store.secret('fjernvarme-nord', 2), v1);
  assert.deepEqual(store.createdAt('fjernvarme-nord', 2), times[1]);

  // The secret handed out is a copy: scribbling on it changes nothing.
  store.secret('fjernvarme-nord', 1).fill(0);
  assert.deepEqual(store.secret('fjernvarme-nord', 1), v1);
});

test('persistence is atomic and survives reopening; the file stays 0600 with no temp files left', async () => {
  const dir = freshDir();
  const file = join(dir, 'keys.json');
  const first = await openKeyStore({ file });
  await first.ensureTenant('iot-a');
  await first.ensureTenant('_login');
  // Concurrent rotations are serialised: each gets its own version.
  const rotated = await Promise.all([first.rotate('iot-a'), first.rotate('iot-a'), first.rotate('iot-a')]);
  assert.deepEqual(rotated.sort(), [2, 3, 4]);

  const second = await openKeyStore({ file });
  assert.deepEqual(second.versions('iot-a'), [1, 2, 3, 4]);
  assert.equal(second.currentVersion('iot-a'), 4);
  for (const v of [1, 2, 3, 4]) assert.deepEqual(second.secret('iot-a', v), first.secret('iot-a', v));
  assert.deepEqual(second.secret('_login', 1), first.secret('_login', 1));
  assert.equal(await mode(file), 0o600);
  assert.deepEqual(await readdir(dir), ['keys.json']);
});

test('unknown tenants, versions and malformed tenant ids are refused', async () => {
  const store = await openKeyStore({ file: join(freshDir(), 'keys.json') });
  await store.ensureTenant('t1');
  assert.throws(() => store.currentVersion('nobody'), isCode('SKJOLD_ERR_KEYS', /no keys for tenant nobody/));
  assert.throws(() => store.secret('t1', 2), isCode('SKJOLD_ERR_KEY_VERSION'));
  await assert.rejects(store.rotate('nobody'), isCode('SKJOLD_ERR_KEYS'));
  for (const bad of ['', '__proto__', '-x', 'a b', 'x'.repeat(200)]) {
    await assert.rejects(store.ensureTenant(bad), isCode('SKJOLD_ERR_KEYS', /invalid tenant id/));
  }
});

test('a damaged key file is refused without quoting its contents', async () => {
  const file = join(freshDir(), 'keys.json');
  await openKeyStore({ file });
  const shortKey = randomBytes(16).toString('base64');
  const cases = [
    'not json {',
    JSON.stringify({ format: 2, tenants: {} }),
    envJson({ t: { current: 1, keys: { 1: shortKey } } }),
    envJson({ t: { current: 2, keys: { 1: randomBytes(32).toString('base64') } } }),
    envJson({ t: { current: 1, keys: { 1: `${randomBytes(32).toString('base64')}!!` } } }),
  ];
  for (const content of cases) {
    await writeFile(file, content, { mode: 0o600 });
    await assert.rejects(
      openKeyStore({ file }),
      (err: unknown) => isCode('SKJOLD_ERR_KEYS')(err) && !String((err as Error).message).includes(shortKey),
    );
  }
});

test('keys from SKJOLD_KEYS (JSON or base64 JSON) are read-only', async () => {
  const key = randomBytes(32);
  const json = envJson({ acme: { current: 1, keys: { 1: key.toString('base64') } } });
  for (const envValue of [json, Buffer.from(json).toString('base64')]) {
    const store = await openKeyStore({ envValue, file: join(freshDir(), 'ignored.json') });
    assert.equal(store.readOnly, true);
    assert.deepEqual(store.secret('acme', 1), key);
    await store.ensureTenant('acme'); // present: nothing to do
    await assert.rejects(store.ensureTenant('other'), isCode('SKJOLD_ERR_KEYS', /SKJOLD_KEYS.*read-only/));
    await assert.rejects(
      store.rotate('acme'),
      isCode('SKJOLD_ERR_KEYS', /rotate them by changing the variable/),
    );
  }
  const garbage = 'c2VjcmV0LXRoaW5n';
  await assert.rejects(
    openKeyStore({ envValue: garbage }),
    (err: unknown) => isCode('SKJOLD_ERR_KEYS')(err) && !(err as Error).message.includes(garbage),
  );
  await assert.rejects(openKeyStore({}), isCode('SKJOLD_ERR_KEYS', /no key source/));
});

test('no secret in JSON.stringify or util.inspect of the store', async () => {
  const stores: KeyStore[] = [await openKeyStore({ file: join(freshDir(), 'keys.json') })];
  await stores[0]?.ensureTenant('t1');
  await stores[0]?.rotate('t1');
  const key = randomBytes(32);
  stores.push(
    await openKeyStore({ envValue: envJson({ t1: { current: 1, keys: { 1: key.toString('base64') } } }) }),
  );
  for (const store of stores) {
    const secrets = store.versions('t1').map((v) => store.secret('t1', v));
    const shown = [
      JSON.stringify(store),
      inspect(store, { depth: 10, showHidden: true }),
      JSON.stringify({ store }),
    ];
    for (const text of shown) {
      assert.match(text, /t1/);
      for (const s of secrets) {
        for (const enc of ['base64', 'hex', 'base64url'] as const) assert.ok(!text.includes(s.toString(enc)));
      }
    }
    assert.deepEqual(JSON.parse(JSON.stringify(store)).tenants.t1.versions, store.versions('t1'));
  }
});

test('the audit key is generated once into a key file, and added to a key file that lacks one', async () => {
  const dir = freshDir();
  await mkdir(dir, { mode: 0o700 });
  const file = join(dir, 'keys.json');
  const tenantKey = randomBytes(32).toString('base64');
  // A key file from before the audit key existed: one tenant, no _audit domain.
  await writeFile(file, envJson({ acme: { current: 1, keys: { 1: tenantKey } } }), { mode: 0o600 });
  const first = await openKeyStore({ file });
  const key = await first.auditKey();
  assert.equal(key.length, 32);
  const onDisk = JSON.parse(await readFile(file, 'utf8'));
  assert.deepEqual(Object.keys(onDisk.tenants).sort(), [AUDIT_DOMAIN, 'acme']);
  assert.equal(onDisk.tenants.acme.keys['1'], tenantKey);
  const reopened = await openKeyStore({ file });
  assert.deepEqual(await reopened.auditKey(), key);
  assert.deepEqual(await first.auditKey(), key);
});

test('SKJOLD_KEYS: its own audit key when it has one, else one derived from the login key, the same on every open', async () => {
  const login = randomBytes(32).toString('base64');
  const audit = randomBytes(32);
  const withAudit = envJson({
    _login: { current: 1, keys: { 1: login } },
    [AUDIT_DOMAIN]: { current: 1, keys: { 1: audit.toString('base64') } },
  });
  assert.deepEqual(await (await openKeyStore({ envValue: withAudit })).auditKey(), audit);

  const without = envJson({ _login: { current: 1, keys: { 1: login } } });
  const derived = await (await openKeyStore({ envValue: without })).auditKey();
  assert.equal(derived.length, 32);
  assert.notDeepEqual(derived, Buffer.from(login, 'base64'));
  assert.deepEqual(await (await openKeyStore({ envValue: without })).auditKey(), derived);
  const otherLogin = envJson({ _login: { current: 1, keys: { 1: randomBytes(32).toString('base64') } } });
  assert.notDeepEqual(await (await openKeyStore({ envValue: otherLogin })).auditKey(), derived);

  const neither = envJson({ acme: { current: 1, keys: { 1: login } } });
  await assert.rejects(
    (await openKeyStore({ envValue: neither })).auditKey(),
    isCode('SKJOLD_ERR_KEYS', /neither an _audit nor a _login key/),
  );
});
