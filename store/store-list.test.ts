import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../lib/config.ts';
import { isSkjoldError } from '../lib/errors.ts';
import { storeSpecs } from './store-list.ts';

const specs = (env: Record<string, string>) =>
  storeSpecs(loadConfig(env, { SKJOLD_DATA_DIR: '/tmp/unused' }));
const refused = (env: Record<string, string>, pattern: RegExp) =>
  assert.throws(
    () => specs(env),
    (err) => isSkjoldError(err, 'SKJOLD_ERR_CONFIG') && pattern.test(err.message),
  );

test('without SKJOLD_INFLUX_STORES there is one store, `default`, at SKJOLD_INFLUX_URL with its credentials', () => {
  assert.deepEqual(specs({ SKJOLD_INFLUX_URL: 'http://influx:8086', SKJOLD_INFLUX_PASSWORD: 'pw' }), [
    { name: 'default', url: 'http://influx:8086', username: 'admin', password: 'pw' },
  ]);
});

test('name=url pairs, credentials taken out of the URL and decoded', () => {
  const got = specs({
    SKJOLD_INFLUX_STORES: ' eu2=https://skjold:p%40ss%3Bw@influx-eu2:8086/ ; eu3=http://influx-eu3:8086',
  });
  assert.deepEqual(got.slice(1), [
    { name: 'eu2', url: 'https://influx-eu2:8086', username: 'skjold', password: 'p@ss;w' },
    { name: 'eu3', url: 'http://influx-eu3:8086' },
  ]);
});

test('JSON: name → url, user, password', () => {
  const got = specs({
    SKJOLD_INFLUX_STORES: '{"v3": {"url": "https://influx3:8181", "user": "skjold", "password": "tok;en="}}',
    SKJOLD_INFLUX_NEW_TENANT_STORE: 'v3',
  });
  assert.deepEqual(got[1], {
    name: 'v3',
    url: 'https://influx3:8181',
    username: 'skjold',
    password: 'tok;en=',
  });
});

test('refused: a second `default`, a name twice, a bad name, a non-http URL, bad JSON, an unknown new-tenant store', () => {
  refused({ SKJOLD_INFLUX_STORES: 'default=http://x:8086' }, /named twice/);
  refused({ SKJOLD_INFLUX_STORES: 'a=http://x:8086;a=http://y:8086' }, /named twice/);
  refused({ SKJOLD_INFLUX_STORES: 'Big=http://x:8086' }, /must match/);
  refused({ SKJOLD_INFLUX_STORES: 'a=ftp://x' }, /not an http/);
  refused({ SKJOLD_INFLUX_STORES: 'just-a-url' }, /not name=url/);
  refused({ SKJOLD_INFLUX_STORES: '{"a": ' }, /not valid JSON/);
  refused({ SKJOLD_INFLUX_STORES: '{"a": {}}' }, /url is required/);
  refused({ SKJOLD_INFLUX_NEW_TENANT_STORE: 'eu9' }, /no store named eu9/);
});
