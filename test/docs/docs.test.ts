import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMON_STORED_FIELDS, SCHEMAS, STORED_FIELDS, TAGS } from '../../ingest/schemas.ts';
import { CONFIG_KEYS } from '../../lib/config.ts';
import { ERROR_CODES } from '../../lib/errors.ts';

const doc = (name: string) => readFileSync(join(import.meta.dirname, '../../docs', name), 'utf8');

/** First-column values of the markdown table rows in a document, without backticks. */
function firstColumn(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => (l.split('|')[1] ?? '').trim().replaceAll('`', ''));
}

test('docs/errors.md lists exactly the error codes in lib/errors.ts, with their statuses', () => {
  const text = doc('errors.md');
  assert.deepEqual(firstColumn(text).sort(), Object.keys(ERROR_CODES).sort());
  for (const [code, { status }] of Object.entries(ERROR_CODES)) {
    assert.match(
      text,
      new RegExp(`\\| \`${code}\` \\| ${status} \\|`),
      `${code} documented with status ${status}`,
    );
  }
});

test('docs/config.md documents exactly the settings lib/config.ts reads', () => {
  assert.deepEqual(firstColumn(doc('config.md')).sort(), [...CONFIG_KEYS].sort());
});

test('docs/privacy.md inventories every stored field and tag', () => {
  const documented = new Set(firstColumn(doc('privacy.md')));
  const stored = [
    ...Object.values(STORED_FIELDS).flatMap((f) => Object.keys(f)),
    ...Object.keys(COMMON_STORED_FIELDS),
    ...TAGS,
  ];
  for (const name of stored) assert.ok(documented.has(name), `${name} is missing from docs/privacy.md`);
  for (const name of documented) assert.ok(stored.includes(name), `${name} is documented but not stored`);
});

test('docs/privacy.md says what happens to every field a device may send', () => {
  const text = doc('privacy.md');
  for (const schema of Object.values(SCHEMAS)) {
    for (const field of Object.keys(schema.shape)) {
      assert.match(
        text,
        new RegExp(`(^|[\\s|\`,])${field}([\\s|\`,]|$)`, 'm'),
        `${field} is not in docs/privacy.md`,
      );
    }
  }
});
