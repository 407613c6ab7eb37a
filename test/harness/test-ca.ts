import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  /** The CA's certificate (PEM file): what a client trusts. */
  caFile: string;
  ca: Buffer;
  /** A server certificate the CA signed, for DNS:localhost and IP:127.0.0.1, and its key (PEM files). */
  certFile: string;
  keyFile: string;
  remove(): void;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * A private certificate authority made with `openssl`, as an operator's own
 * CA would be: a CA key and self-signed CA certificate, then a server key
 * whose CSR the CA signs with subjectAltName DNS:localhost,IP:127.0.0.1.
 * Valid for two days; `remove()` deletes every file.
 */
export function createTestCa(name = 'Skjold test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'skjold-ca-'));
  const file = (f: string) => join(dir, f);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

  openssl(
    ...['req', '-x509', ...EC, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2'],
    ...['-subj', `/CN=${name}`],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  );
  openssl(
    ...['req', '-new', ...EC, '-keyout', file('server.key'), '-out', file('server.csr')],
    ...['-subj', '/CN=localhost'],
  );
  writeFileSync(
    file('server.ext'),
    [
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
    ].join('\n'),
  );
  openssl(
    ...['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key')],
    ...['-CAcreateserial', '-out', file('server.pem'), '-days', '2', '-extfile', file('server.ext')],
  );
  return {
    caFile: file('ca.pem'),
    ca: readFileSync(file('ca.pem')),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
