import { apiFor, type Entry, need, print, str } from './command-kit.ts';

export const USERS_USAGE = `  users add --username U --role operator|tenant_admin|tenant_dpo [--tenant T] [--password P]
                                                a console user; without --password it signs in with a one-time link
  users list
  users sign-in-link --username U               a link that signs the user in once, within 15 minutes
  users disable --username U                    ends the user's sessions; it can no longer sign in`;

/** Console users (docs/console.md): the operator's colleagues and each tenant's admin and DPO. */
export const USER_COMMANDS: Entry[] = [
  {
    name: 'users add',
    options: { username: str, role: str, tenant: str, password: str },
    async run(cmd) {
      const tenant = cmd.values.tenant;
      const password = cmd.values.password;
      print(
        await (await apiFor(cmd.config)).call('POST', '/v1/users', {
          username: need(cmd, 'username'),
          role: need(cmd, 'role'),
          ...(typeof tenant === 'string' ? { tenantId: tenant } : {}),
          ...(typeof password === 'string' ? { password } : {}),
        }),
      );
    },
  },
  {
    name: 'users list',
    options: {},
    run: async (cmd) => print(await (await apiFor(cmd.config)).call('GET', '/v1/users')),
  },
  {
    name: 'users sign-in-link',
    options: { username: str },
    async run(cmd) {
      const api = await apiFor(cmd.config);
      const { path } = await api.call<{ path: string }>(
        'POST',
        `/v1/users/${encodeURIComponent(need(cmd, 'username'))}/sign-in-code`,
      );
      process.stdout.write(`${new URL(path, api.url)}\n`);
    },
  },
  {
    name: 'users disable',
    options: { username: str },
    async run(cmd) {
      await (await apiFor(cmd.config)).call(
        'DELETE',
        `/v1/users/${encodeURIComponent(need(cmd, 'username'))}`,
      );
      print({ disabled: need(cmd, 'username') });
    },
  },
];
