import { operatorToken } from '../app/operator-token.ts';
import { cliApiUrl } from '../lib/api-url.ts';
import { createApiClient } from './api-client.ts';
import { apiFor, type Command, type Entry, flag, need, print, str } from './command-kit.ts';
import { download, exportProgressMode, withProgress } from './long-commands.ts';

export const REQUEST_USAGE = `
Data-subject requests (docs/subject-requests.md). Operator:
  tokens issue --tenant T --scopes S1,S2 [--label L]
                                                a tenant API token (shown once); scopes: requests, subjects:write,
                                                subjects:export, subjects:erase, tenant:export
  tokens list --tenant T
  tokens revoke --tenant T --id TOKEN_ID
  requests list [--tenant T] [--overdue]        every tenant's requests (or one tenant's)
  statistics fleet [--days N]                   the operator's fleet statistics (restricted/objecting subjects left out, groups under 5 devices suppressed)
  tenants export --tenant T [--format json|csv] [--out FILE]
                                                a tenant's data as the operator may see it (restricted subjects left out)
Tenant (--tenant-token TOKEN, or --tenant-token-file FILE):
  subjects export --ref REF [--format json|csv] [--request ID] [--out FILE]
  subjects erase --ref REF [--request ID]       prints the erasure receipt
  subjects restrict --ref REF [--lift]
  subjects object --ref REF --purpose P [--withdraw-consent] [--lift]
  requests file --ref REF --kind access|portability|erasure|restriction|restriction_lift|objection|consent_withdrawal|rectification
                [--received ISO-8601]
  requests extend --id ID --months 1|2 --reason TEXT
  requests list --tenant-token TOKEN [--overdue]
`;

const tokenOptions = { 'tenant-token': str, 'tenant-token-file': str };

const apiUrl = (cmd: Command) => cliApiUrl(cmd.config);

async function tenantToken(cmd: Command): Promise<string | undefined> {
  const file = cmd.values['tenant-token-file'];
  if (typeof file === 'string') return (await cmd.readFile(file)).trim();
  const token = cmd.values['tenant-token'];
  return typeof token === 'string' ? token : undefined;
}

async function tenantApi(cmd: Command) {
  const token = await tenantToken(cmd);
  if (!token)
    throw Object.assign(new Error('--tenant-token or --tenant-token-file is required'), {
      code: 'ERR_PARSE_ARGS_MISSING',
    });
  return createApiClient({ url: apiUrl(cmd), token });
}

const subject = (cmd: Command) => `/tenant/v1/subjects/${encodeURIComponent(need(cmd, 'ref'))}`;

export const REQUEST_COMMANDS: Entry[] = [
  {
    name: 'tokens issue',
    options: { tenant: str, scopes: str, label: str },
    async run(cmd) {
      const body = {
        scopes: need(cmd, 'scopes')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        ...(typeof cmd.values.label === 'string' ? { label: cmd.values.label } : {}),
      };
      print(await (await apiFor(cmd.config)).call('POST', `/v1/tenants/${need(cmd, 'tenant')}/tokens`, body));
    },
  },
  {
    name: 'tokens list',
    options: { tenant: str },
    run: async (cmd) =>
      print(await (await apiFor(cmd.config)).call('GET', `/v1/tenants/${need(cmd, 'tenant')}/tokens`)),
  },
  {
    name: 'tokens revoke',
    options: { tenant: str, id: str },
    async run(cmd) {
      await (await apiFor(cmd.config)).call(
        'DELETE',
        `/v1/tenants/${need(cmd, 'tenant')}/tokens/${encodeURIComponent(need(cmd, 'id'))}`,
      );
      print({ revoked: true });
    },
  },
  {
    name: 'requests list',
    options: { tenant: str, overdue: flag, ...tokenOptions },
    async run(cmd) {
      const overdue = cmd.values.overdue === true ? '?overdue=true' : '';
      if (await tenantToken(cmd)) {
        print(await (await tenantApi(cmd)).call('GET', `/tenant/v1/requests${overdue}`));
        return;
      }
      const params = new URLSearchParams();
      if (cmd.values.overdue === true) params.set('overdue', 'true');
      if (typeof cmd.values.tenant === 'string') params.set('tenant', cmd.values.tenant);
      print(await (await apiFor(cmd.config)).call('GET', `/v1/requests?${params}`));
    },
  },
  {
    name: 'statistics fleet',
    options: { days: str },
    run: async (cmd) =>
      print(
        await (await apiFor(cmd.config)).call(
          'GET',
          `/v1/statistics/fleet?days=${Number(cmd.values.days ?? 30)}`,
        ),
      ),
  },
  {
    name: 'subjects export',
    options: { ref: str, format: str, request: str, out: str, ...tokenOptions },
    async run(cmd) {
      const token = (await tenantToken(cmd)) ?? need(cmd, 'tenant-token');
      const params = new URLSearchParams({ format: String(cmd.values.format ?? 'json') });
      if (typeof cmd.values.request === 'string') params.set('request', cmd.values.request);
      const url = new URL(`${subject(cmd)}/export?${params}`, apiUrl(cmd));
      const out = typeof cmd.values.out === 'string' ? cmd.values.out : undefined;
      await withProgress(cmd, 'subjects export', (progress) => download(url, token, out, progress), {
        mode: exportProgressMode(cmd),
      });
    },
  },
  {
    name: 'tenants export',
    options: { tenant: str, format: str, out: str },
    async run(cmd) {
      // The operator's view (art. 18: restricted subjects left out); a tenant's own is /tenant/v1/export.
      const params = new URLSearchParams({ format: String(cmd.values.format ?? 'json') });
      const url = new URL(`/v1/tenants/${need(cmd, 'tenant')}/export?${params}`, apiUrl(cmd));
      const out = typeof cmd.values.out === 'string' ? cmd.values.out : undefined;
      const token = await operatorToken(cmd.config);
      await withProgress(cmd, 'tenants export', (progress) => download(url, token, out, progress), {
        mode: exportProgressMode(cmd),
      });
    },
  },
  {
    name: 'subjects erase',
    options: { ref: str, request: str, ...tokenOptions },
    async run(cmd) {
      const body = typeof cmd.values.request === 'string' ? { requestId: cmd.values.request } : {};
      print(await (await tenantApi(cmd)).call('POST', `${subject(cmd)}/erase`, body));
    },
  },
  {
    name: 'subjects restrict',
    options: { ref: str, lift: flag, ...tokenOptions },
    run: async (cmd) =>
      print(
        await (await tenantApi(cmd)).call(
          'POST',
          `${subject(cmd)}/restrict${cmd.values.lift === true ? '/lift' : ''}`,
          {},
        ),
      ),
  },
  {
    name: 'subjects object',
    options: { ref: str, purpose: str, 'withdraw-consent': flag, lift: flag, ...tokenOptions },
    run: async (cmd) =>
      print(
        await (await tenantApi(cmd)).call(
          'POST',
          `${subject(cmd)}/${cmd.values['withdraw-consent'] === true ? 'withdraw-consent' : 'object'}${cmd.values.lift === true ? '/lift' : ''}`,
          { purpose: need(cmd, 'purpose') },
        ),
      ),
  },
  {
    name: 'requests file',
    options: { ref: str, kind: str, received: str, ...tokenOptions },
    async run(cmd) {
      const body = {
        subjectRef: need(cmd, 'ref'),
        kind: need(cmd, 'kind'),
        ...(typeof cmd.values.received === 'string' ? { receivedAt: cmd.values.received } : {}),
      };
      print(await (await tenantApi(cmd)).call('POST', '/tenant/v1/requests', body));
    },
  },
  {
    name: 'requests extend',
    options: { id: str, months: str, reason: str, ...tokenOptions },
    run: async (cmd) =>
      print(
        await (await tenantApi(cmd)).call(
          'POST',
          `/tenant/v1/requests/${encodeURIComponent(need(cmd, 'id'))}/extend`,
          { months: Number(need(cmd, 'months')), reason: need(cmd, 'reason') },
        ),
      ),
  },
];
