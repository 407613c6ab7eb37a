/**
 * Log redaction by construction: identifiers, secrets, payloads and free
 * text are censored wherever they sit in a logged object, up to three levels
 * down, in the base logger and its children, and inside serialised errors.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './log.ts';

function captured() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}

// Recognisable values, one per sensitive key.
const RAW = {
  iccid: '8945020000000000017',
  imsi: '238019900000017',
  imei: '356938035643809',
  imeisv: '3569380356438091',
  msisdn: '4520000017',
  wmbus: 'KAM77665544',
  serial: 'SERIAL-77665544',
  note: 'Ring Jens Hansen before the heat is cut',
  secret: 'hunter2-device-secret',
  password: 'pa55-influx-admin',
  token: 'skjt_token_value_0123',
  username: 'user-8945020000000000017',
};

const nest = (depth: number, leaf: Record<string, unknown>): Record<string, unknown> =>
  depth === 0 ? leaf : { [`level${depth}`]: nest(depth - 1, leaf) };

test('every sensitive key is redacted at the top level and one, two and three levels down', () => {
  const { logger, lines } = captured();
  for (let depth = 0; depth <= 3; depth++)
    logger.info(nest(depth, { ...RAW, kept: `depth-${depth}` }), 'nested');
  assert.equal(lines.length, 4);
  for (const [depth, line] of lines.entries()) {
    assert.ok(line.includes(`depth-${depth}`), 'what is not sensitive is logged');
    for (const [key, value] of Object.entries(RAW))
      assert.ok(!line.includes(value), `${key} at depth ${depth}`);
    assert.equal(line.match(/\[redacted\]/g)?.length, Object.keys(RAW).length);
  }
});

test('payloads, identifier maps, arrays, child loggers and errors carrying data are redacted', () => {
  const { logger, lines } = captured();
  const child = logger.child({ component: 'ingest' });
  child.warn({ payload: { identifiers: { imsi: RAW.imsi } } }, 'a payload');
  child.warn({ device: { payload: { identifiers: { iccid: RAW.iccid } } } }, 'a payload one down');
  child.warn({ batch: [{ imeisv: RAW.imeisv }, { note: RAW.note }] }, 'an array of readings');
  child.warn({ reading: { identifiers: { msisdn: RAW.msisdn } } }, 'an identifier map');
  const err = Object.assign(new Error('rejected'), {
    code: 'SKJOLD_ERR_VALIDATION',
    payload: { iccid: RAW.iccid },
    device: { iccid: RAW.iccid, imeisv: RAW.imeisv, note: RAW.note },
  });
  child.error({ err }, 'an error with data attached');
  child.error({ upstream: { err } }, 'an error one down');
  const text = lines.join('');
  assert.equal(lines.length, 6);
  for (const [key, value] of Object.entries(RAW)) assert.ok(!text.includes(value), key);
  assert.match(text, /SKJOLD_ERR_VALIDATION/, 'the error itself is still logged');
});
