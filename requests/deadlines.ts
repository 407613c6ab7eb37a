/**
 * Art. 12(3): a request is answered "without undue delay and in any event
 * within one month of receipt", extendable "by two further months where
 * necessary", the subject being told why. Months are calendar months; a day
 * that does not exist in the target month becomes its last day (31 Jan → 28/29 Feb).
 */
export const MAX_EXTENSION_MONTHS = 2;

export function addMonths(at: Date, months: number): Date {
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  const out = new Date(at);
  out.setUTCFullYear(y, m, Math.min(at.getUTCDate(), lastDay));
  return out;
}

/** When a request received at `receivedAt` is due, after `extendedMonths` of extension. */
export function dueDate(receivedAt: Date, extendedMonths = 0): Date {
  return addMonths(receivedAt, 1 + extendedMonths);
}

export function isOverdue(r: { status: string; dueAt: string | Date }, now: Date): boolean {
  return (r.status === 'open' || r.status === 'extended') && new Date(r.dueAt).getTime() < now.getTime();
}
