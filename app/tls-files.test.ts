import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestCa } from '../test/harness/test-ca.ts';
import { readTlsFiles } from './tls-files.ts';

const names = { cert: 'SKJOLD_API_TLS_CERT', key: 'SKJOLD_API_TLS_KEY' };

test('neither file set: no TLS; both set: their contents', async () => {
  assert.equal(await readTlsFiles(names, undefined, undefined), undefined);
  const ca = createTestCa();
  try {
    const files = await readTlsFiles(names, ca.certFile, ca.keyFile);
    assert.match(files?.cert.toString() ?? '', /BEGIN CERTIFICATE/);
    assert.match(files?.key.toString() ?? '', /BEGIN PRIVATE KEY/);
  } finally {
    ca.remove();
  }
});

test('one of the pair without the other, or an unreadable file, is a configuration error naming the setting', async () => {
  await assert.rejects(readTlsFiles(names, '/some/cert.pem', undefined), {
    code: 'SKJOLD_ERR_CONFIG',
    message: /SKJOLD_API_TLS_CERT and SKJOLD_API_TLS_KEY are set together/,
  });
  await assert.rejects(readTlsFiles(names, undefined, '/some/key.pem'), { code: 'SKJOLD_ERR_CONFIG' });
  await assert.rejects(readTlsFiles(names, '/nonexistent/cert.pem', '/nonexistent/key.pem'), {
    code: 'SKJOLD_ERR_CONFIG',
    message: /SKJOLD_API_TLS_CERT: cannot read/,
  });
});
