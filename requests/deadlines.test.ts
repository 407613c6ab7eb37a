import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addMonths, dueDate, isOverdue } from './deadlines.ts';

test('one month later is the same day of the next month', () => {
  assert.equal(dueDate(new Date('2026-03-15T10:00:00Z')).toISOString(), '2026-04-15T10:00:00.000Z');
});

test('a day the next month lacks becomes its last day', () => {
  assert.equal(addMonths(new Date('2026-01-31T00:00:00Z'), 1).toISOString(), '2026-02-28T00:00:00.000Z');
  assert.equal(addMonths(new Date('2028-01-31T00:00:00Z'), 1).toISOString(), '2028-02-29T00:00:00.000Z');
  assert.equal(addMonths(new Date('2026-12-31T00:00:00Z'), 2).toISOString(), '2027-02-28T00:00:00.000Z');
});

test('an extension adds whole months to the original receipt', () => {
  assert.equal(dueDate(new Date('2026-01-31T00:00:00Z'), 2).toISOString(), '2026-04-30T00:00:00.000Z');
});

test('open and extended requests past their due time are overdue; completed ones never', () => {
  const now = new Date('2026-05-01T00:00:00Z');
  assert.equal(isOverdue({ status: 'open', dueAt: '2026-04-30T23:59:59Z' }, now), true);
  assert.equal(isOverdue({ status: 'extended', dueAt: '2026-04-30T00:00:00Z' }, now), true);
  assert.equal(isOverdue({ status: 'completed', dueAt: '2026-01-01T00:00:00Z' }, now), false);
  assert.equal(isOverdue({ status: 'open', dueAt: '2026-05-01T00:00:01Z' }, now), false);
});
