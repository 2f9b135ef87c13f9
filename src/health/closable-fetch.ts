import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

export interface ClosableFetch {
  fetch: FetchLike;
  /** Closes every socket this fetch opened, at once. */
  close(): void;
}

/**
 * A fetch for one MCP session whose sockets can be closed the moment the session ends. The global fetch
 * keeps idle keep-alive sockets for seconds, and the pool's cleanup waits for a container's MCP connections
 * to drain before it hands the container on: those idle sockets would add seconds to every hand-over.
 */
export function createClosableFetch(): ClosableFetch {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const fetch: FetchLike = (input, init = {}) => {
    const url = new URL(String(input));
    const method = (init.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => (headers[key] = value));
    const body = bodyBytes(init.body);
    if (body) headers['content-length'] = String(body.byteLength);
    const attempt = (retry: boolean): Promise<Response> =>
      new Promise<Response>((resolve, reject) => {
        const req = request(url, { method, headers, agent, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
          const status = res.statusCode ?? 0;
          const noBody = method === 'HEAD' || status === 204 || status === 205 || status === 304;
          if (noBody) res.resume();
          resolve(
            new Response(noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
              status,
              statusText: res.statusMessage ?? '',
              headers: toHeaders(res.headers),
            }),
          );
        });
        req.on('error', (error: NodeJS.ErrnoException) => {
          // A keep-alive socket the server closed while this process could not notice (its event loop stalled
          // past the server's keep-alive timeout, 5 s for Node servers such as the Origin guard): the request
          // never reached the server, so sending it once more on a fresh socket is safe (Node's documented
          // reusedSocket pattern).
          if (retry && req.reusedSocket && error.code === 'ECONNRESET' && !init.signal?.aborted) {
            attempt(false).then(resolve, reject);
            return;
          }
          reject(new TypeError(`fetch failed: ${error.message}`, { cause: error }));
        });
        req.end(body);
      });
    return attempt(true);
  };
  return { fetch, close: () => agent.destroy() };
}

function bodyBytes(body: RequestInit['body']): Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  // The MCP SDK sends JSON strings only; anything else would be a new SDK behaviour worth failing loudly on.
  throw new TypeError(`closable fetch: unsupported body type ${Object.prototype.toString.call(body)}`);
}

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const v of value) headers.append(key, v);
    else if (value !== undefined) headers.set(key, value);
  }
  return headers;
}
