import { SkjoldError } from '../lib/errors.ts';

/**
 * RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF. Returns the rows
 * as objects keyed by the header. Errors name the row, never a value.
 */
export function parseCsv(text: string): Array<Record<string, string>> {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (quoted) throw new SkjoldError('SKJOLD_ERR_CSV', `unterminated quote in row ${rows.length + 1}`);
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  const nonEmpty = rows.filter((r) => r.some((f) => f.trim() !== ''));
  const header = nonEmpty.shift()?.map((h) => h.trim().toLowerCase());
  if (!header) throw new SkjoldError('SKJOLD_ERR_CSV', 'no header row');
  return nonEmpty.map((r, i) => {
    if (r.length !== header.length) {
      throw new SkjoldError(
        'SKJOLD_ERR_CSV',
        `row ${i + 2} has ${r.length} fields, the header has ${header.length}`,
      );
    }
    return Object.fromEntries(header.map((h, j) => [h, (r[j] ?? '').trim()]));
  });
}
