import net from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `head` (request line and headers, without the blank line) and `body`
 * over a fresh TCP connection exactly as written — no client library to
 * normalise the path — and reads the answer until the server closes.
 */
export function rawHttp(
  port: number,
  head: string,
  body = '',
  options: { localAddress?: string; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      port,
      host: '127.0.0.1',
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    const chunks: Buffer[] = [];
    socket.setTimeout(options.timeoutMs ?? 10_000, () =>
      socket.destroy(new Error(`no answer to ${head.split('\r\n')[0]}`)),
    );
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = all
        .subarray(0, split < 0 ? all.length : split)
        .toString('latin1')
        .split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      let rest: Buffer = split < 0 ? Buffer.alloc(0) : all.subarray(split + 4);
      if (headers['transfer-encoding'] === 'chunked') rest = unchunk(rest);
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: rest.toString('utf8') });
    });
    const extra = body ? `\r\ncontent-length: ${Buffer.byteLength(body)}` : '';
    // Not end(): a half-closed connection may be dropped before a slow answer is written.
    socket.write(`${head}\r\nconnection: close${extra}\r\n\r\n${body}`);
  });
}

function unchunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = Number.parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!size) break;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
