// The console's first admin. On a start with no users at all, user `admin` is created with the
// password in QUORUMBL_ADMIN_PASSWORD (an environment variable, never a config key), or with a
// generated one written once to the log at warn level. Later starts do nothing (and never print
// a password again): the users table is not empty.

import { randomBytes } from 'node:crypto';
import { MIN_PASSWORD, type Users } from '../../sync/local/users.ts';

export const ADMIN_PASSWORD_ENV = 'QUORUMBL_ADMIN_PASSWORD';

export interface BootstrapLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Returns what it did: 'exists' (users already there), 'env', 'generated' or 'failed'. */
export async function bootstrapAdmin(users: Users, env: NodeJS.ProcessEnv, log: BootstrapLog): Promise<'exists' | 'env' | 'generated' | 'failed'> {
  if (users.count() > 0) {
    if (env[ADMIN_PASSWORD_ENV]) log.info({}, `${ADMIN_PASSWORD_ENV} is ignored: console users exist already (change passwords with PATCH /api/v1/users/NAME)`);
    return 'exists';
  }
  const given = env[ADMIN_PASSWORD_ENV];
  if (given !== undefined && given !== '') {
    try {
      await users.create('admin', 'admin', given, 'system:bootstrap');
    } catch (e) {
      log.error({ err: (e as Error).message }, `console user 'admin' NOT created: ${ADMIN_PASSWORD_ENV} was refused (at least ${MIN_PASSWORD} characters); nobody can sign in until a start with a valid one`);
      return 'failed';
    }
    log.info({ user: 'admin' }, `console user 'admin' created with the password from ${ADMIN_PASSWORD_ENV}`);
    return 'env';
  }
  const password = randomBytes(18).toString('base64url'); // 144 bits, 24 characters
  await users.create('admin', 'admin', password, 'system:bootstrap');
  log.warn({ user: 'admin', password },
    `console user 'admin' created with this generated password. It is shown ONLY THIS ONCE: sign in at /login and keep it (or set ${ADMIN_PASSWORD_ENV} before the first start)`);
  return 'generated';
}
