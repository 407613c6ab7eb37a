/**
 * Failure modes influxd cannot be made to show on demand (a hang, a 5xx, a
 * connection flood), against a stand-in HTTP server. Everything influxd can
 * show is tested against the real one in influx-v1.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, test } from 'node:test';
import { isSkjoldError } from '../lib/errors.ts';
import type { Point } from '../lib/point.ts';
import { createInfluxV1Store } from './influx-v1.ts';
import { isRetryable, StoreError } from './store-error.ts';

const point: Point = { measurement: 'm', tags: { d: 'p1' }, fields: { v: 1 }, timestampMs: 1 };
let server: Server | undefined;

afterEach(async () => {
  const s = server;
  server = undefined;
  if (!s) return;
  s.closeAllConnections();
  await new Promise((resolve) => s.close(resolve));
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function storeError(promise: Promise<unknown>): Promise<StoreError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof StoreError, String(err));
    return err;
  }
  assert.fail('expected a rejection');
}

test('no answer within timeoutMs is a retryable UNAVAILABLE', async () => {
  const url = await serve(() => {}); // accepts, never answers
  const store = createInfluxV1Store({ url, timeoutMs: 150 });
  const started = Date.now();
  const err = await storeError(store.write('t', [point]));
  assert.equal(err.code, 'SKJOLD_ERR_STORE_UNAVAILABLE');
  assert.equal(isRetryable(err), true);
  assert.match(err.message, /within 150 ms/);
  assert.ok(Date.now() - started < 2000);
  await store.close();
});

test('5xx and 429 are retryable UNAVAILABLE; other 4xx are final STORE_WRITE with influx’s text', async () => {
  let status = 500;
  const url = await serve((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: `status ${status} reason` }));
  });
  const store = createInfluxV1Store({ url });
  for (const [code, expected, retryable] of [
    [500, 'SKJOLD_ERR_STORE_UNAVAILABLE', true],
    [503, 'SKJOLD_ERR_STORE_UNAVAILABLE', true],
    [429, 'SKJOLD_ERR_STORE_UNAVAILABLE', true],
    [400, 'SKJOLD_ERR_STORE_WRITE', false],
    [413, 'SKJOLD_ERR_STORE_WRITE', false],
  ] as const) {
    status = code;
    const err = await storeError(store.write('t', [point]));
    assert.deepEqual([err.code, isRetryable(err), err.httpStatus], [expected, retryable, code]);
    assert.match(err.message, new RegExp(`status ${code} reason`));
  }
  status = 502;
  const queryErr = await storeError(store.query('t', 'SELECT * FROM m'));
  assert.deepEqual([queryErr.code, isRetryable(queryErr)], ['SKJOLD_ERR_STORE_UNAVAILABLE', true]);
  await store.close();
});

test('connection refused is a retryable UNAVAILABLE and ping() is false', async () => {
  const url = await serve(() => {});
  const s = server;
  server = undefined;
  await new Promise((resolve) => s?.close(resolve));
  const store = createInfluxV1Store({ url });
  const err = await storeError(store.write('t', [point]));
  assert.deepEqual([err.code, isRetryable(err)], ['SKJOLD_ERR_STORE_UNAVAILABLE', true]);
  assert.match(err.message, /ECONNREFUSED/);
  assert.equal(await store.ping(), false);
  await store.close();
});

test('parallel writes share at most maxSockets keep-alive connections', async () => {
  const total = 40;
  const sockets = new Set<unknown>();
  const held: ServerResponse[] = [];
  let answered = 0;
  let peak = 0;
  const url = await serve((req, res) => {
    sockets.add(req.socket);
    req.resume();
    req.on('end', () => {
      held.push(res);
      peak = Math.max(peak, held.length);
      // Answer only when every allowed connection carries a request (or the last ones are in):
      // if the client opened more than maxSockets, peak would show it.
      if (held.length === 3 || answered + held.length === total) {
        answered += held.length;
        for (const r of held.splice(0)) r.writeHead(204).end();
      }
    });
  });
  const store = createInfluxV1Store({ url, maxSockets: 3 });
  await Promise.all(Array.from({ length: total }, () => store.write('t', [point])));
  assert.equal(peak, 3);
  assert.equal(sockets.size, 3);
  await store.close();
});

test('a reused keep-alive socket the server dropped is retried once on a fresh one', async () => {
  let requests = 0;
  const url = await serve((req, res) => {
    requests++;
    req.resume();
    // The second request arrives on the pooled socket of the first; dropping it unanswered is
    // what the client sees when influxd restarted between the two.
    if (requests === 2) req.socket.destroy();
    else res.writeHead(204).end();
  });
  const store = createInfluxV1Store({ url, maxSockets: 1 });
  await store.write('t', [point]);
  await store.write('t', [point]);
  assert.equal(requests, 3);
  await store.close();
});

test('an invalid tenant id is refused before anything is sent', () => {
  const store = createInfluxV1Store({ url: 'http://127.0.0.1:1' });
  assert.throws(
    () => store.databaseFor('../x'),
    (err) => isSkjoldError(err, 'SKJOLD_ERR_VALIDATION'),
  );
});
