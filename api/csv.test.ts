import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSkjoldError } from '../lib/errors.ts';
import { parseCsv } from './csv.ts';

test('CSV rows become objects keyed by the lower-cased header; quotes, CRLF and blank lines are handled', () => {
  const text =
    'Kind,Contract,Serial,Secret\r\nbuilding_sensor,c1,"BS-1,2",s3cret""x\r\n\r\nheat_meter,c1,,"a ""quoted"" one"\n';
  assert.deepEqual(parseCsv(text), [
    { kind: 'building_sensor', contract: 'c1', serial: 'BS-1,2', secret: 's3cret""x' },
    { kind: 'heat_meter', contract: 'c1', serial: '', secret: 'a "quoted" one' },
  ]);
});

test('a row with the wrong number of fields or an open quote names the row, not its values', () => {
  assert.throws(
    () => parseCsv('kind,contract\nheat_meter,c1,KAM12345678\n'),
    (e) => isSkjoldError(e, 'SKJOLD_ERR_CSV') && e.message.includes('row 2') && !e.message.includes('KAM'),
  );
  assert.throws(
    () => parseCsv('kind\n"open'),
    (e) => isSkjoldError(e, 'SKJOLD_ERR_CSV'),
  );
  assert.throws(
    () => parseCsv(''),
    (e) => isSkjoldError(e, 'SKJOLD_ERR_CSV'),
  );
});
