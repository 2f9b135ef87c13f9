import { createServer, type IncomingMessage, type Server } from 'node:http';

/**
 * A site on 0.0.0.0 (containers reach the host as host.docker.internal) with the pages the fault scenarios need.
 * `routes` answers by path; every request's Cookie header is recorded so a scenario can prove from the server
 * side that a later holder's browser sent no cookie of an earlier one.
 */
export interface TestSite {
  readonly port: number;
  /** URL of a path as a pool container sees the host. */
  url(path: string): string;
  /** Cookie headers received, by path, in order. */
  readonly cookiesSeen: Array<{ path: string; cookie: string }>;
  close(): Promise<void>;
}

export type Route = (req: IncomingMessage) => { status?: number; headers?: Record<string, string>; body: string; delayMs?: number };

export async function startTestSite(routes: Record<string, Route>): Promise<TestSite> {
  const cookiesSeen: Array<{ path: string; cookie: string }> = [];
  const pending = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    cookiesSeen.push({ path, cookie: req.headers.cookie ?? '' });
    const route = routes[path];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const answer = route(req);
    const send = () => res.writeHead(answer.status ?? 200, { 'content-type': 'text/html; charset=utf-8', ...answer.headers }).end(answer.body);
    if (answer.delayMs) {
      const timer = setTimeout(() => {
        pending.delete(timer);
        if (!res.destroyed) send();
      }, answer.delayMs);
      pending.add(timer);
    } else {
      send();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    url: (path) => `http://host.docker.internal:${port}${path}`,
    cookiesSeen,
    close: async () => {
      for (const timer of pending) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
