/**
 * A small HTTP client for the InfluxDB v1 API: keep-alive connections, a
 * bounded socket pool (unbounded parallel writes exhaust influxd's file
 * descriptors), a deadline per request, and failures mapped to StoreErrors.
 */
import http from 'node:http';
import https from 'node:https';
import { StoreError } from './store-error.ts';

export interface InfluxHttpOptions {
  url: string;
  username?: string;
  password?: string;
  maxSockets: number;
  timeoutMs: number;
}

export interface InfluxResponse {
  status: number;
  body: string;
}

export interface InfluxHttp {
  /** Sends one request. Resolves with any HTTP answer; rejects (retryable) only when there was none. */
  request(
    method: 'GET' | 'POST',
    path: string,
    params: URLSearchParams,
    body?: string | Buffer,
  ): Promise<InfluxResponse>;
  close(): void;
}

// A pooled keep-alive socket the server closed meanwhile (e.g. influxd restarted)
// fails with one of these on reuse. Every request this client sends is
// idempotent (writes overwrite the same points), so one retry on a fresh socket is safe.
const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Influx's `{"error": "..."}` text, or the start of the body; bounded so a message stays a message. */
export function errorText(body: string): string {
  let text = body;
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') text = parsed.error;
  } catch {
    // Not JSON: use the raw body.
  }
  text = text.trim();
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

export function createInfluxHttp(options: InfluxHttpOptions): InfluxHttp {
  const base = new URL(options.url);
  const secure = base.protocol === 'https:';
  if (!secure && base.protocol !== 'http:') {
    throw new StoreError('SKJOLD_ERR_STORE_UNAVAILABLE', 'InfluxDB URL must be http: or https:', {
      retryable: false,
    });
  }
  const transport = secure ? https : http;
  const agent = new transport.Agent({
    keepAlive: true,
    maxSockets: options.maxSockets,
    maxFreeSockets: options.maxSockets,
  });
  const basePath = base.pathname.replace(/\/+$/, '');
  const authorization =
    options.username === undefined
      ? undefined
      : `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
  let closed = false;

  const once = (
    method: string,
    path: string,
    params: URLSearchParams,
    body: string | Buffer | undefined,
  ): Promise<InfluxResponse & { staleSocket?: boolean }> =>
    new Promise((resolve, reject) => {
      const signal = AbortSignal.timeout(options.timeoutMs);
      const headers: http.OutgoingHttpHeaders = {};
      if (authorization) headers.authorization = authorization;
      let payload: Buffer | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? Buffer.from(body) : body;
        headers['content-length'] = payload.length;
        headers['content-type'] =
          path === '/query' ? 'application/x-www-form-urlencoded' : 'text/plain; charset=utf-8';
      }
      const query = params.toString();
      const req = transport.request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          method,
          path: `${basePath}${path}${query ? `?${query}` : ''}`,
          headers,
          agent,
          signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (err) => fail(err));
        },
      );
      const fail = (err: NodeJS.ErrnoException): void => {
        const code = err.code ?? '';
        if (req.reusedSocket && STALE_SOCKET.has(code) && !signal.aborted) {
          resolve({ status: 0, body: '', staleSocket: true });
          return;
        }
        const detail = signal.aborted
          ? `no answer from ${base.host} within ${options.timeoutMs} ms`
          : `${base.host}: ${code || err.message}`;
        reject(new StoreError('SKJOLD_ERR_STORE_UNAVAILABLE', detail, { retryable: true, cause: err }));
      };
      req.on('error', fail);
      req.end(payload);
    });

  return {
    async request(method, path, params, body) {
      if (closed) {
        throw new StoreError('SKJOLD_ERR_STORE_UNAVAILABLE', 'store client is closed', { retryable: false });
      }
      const first = await once(method, path, params, body);
      if (!first.staleSocket) return first;
      const second = await once(method, path, params, body);
      if (second.staleSocket) {
        throw new StoreError('SKJOLD_ERR_STORE_UNAVAILABLE', `${base.host}: connection reset`, {
          retryable: true,
        });
      }
      return second;
    },
    close() {
      closed = true;
      agent.destroy();
    },
  };
}
