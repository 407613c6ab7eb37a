import { TOKEN_SCOPES } from '../../requests/tokens.ts';
import type { Stack } from './stack.ts';

export interface Answer {
  status: number;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/** Calls Skjold's API as a tenant (token) or as the operator (token omitted → operator). */
export async function callAs(
  stack: Stack,
  token: string | null,
  method: string,
  path: string,
  payload?: unknown,
): Promise<Answer> {
  const res = await stack.skjold.api.inject({
    method: method as 'GET',
    url: path,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body, json: <T>() => JSON.parse(res.body) as T };
}

export const operator = (stack: Stack) => stack.config.SKJOLD_OPERATOR_TOKEN ?? '';

/** Issues a tenant token through the operator API. */
export async function issueToken(
  stack: Stack,
  tenant: string,
  scopes: string[],
): Promise<{ id: string; token: string }> {
  const res = await callAs(stack, operator(stack), 'POST', `/v1/tenants/${tenant}/tokens`, { scopes });
  if (res.status !== 201) throw new Error(`token issue: ${res.status} ${res.body}`);
  return res.json<{ id: string; token: string }>();
}

export const ALL_SCOPES: string[] = [...TOKEN_SCOPES];

/** A minimal RFC 4180 parser for checking exports. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
