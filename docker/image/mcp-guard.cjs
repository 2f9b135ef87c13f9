// The guard in front of every pool MCP server, in both runtimes. Two rules, in this order:
//   1. Origin/Host (issue 5, scenario 10: DNS rebinding): @playwright/mcp checks Host but never Origin, so a page on
//      a foreign origin could drive the server with a plain cross-origin fetch to localhost. Refused: 403.
//   2. Lease credential (issue 10, fencing at the resource): every request carries `Authorization: Bearer <cred>`,
//      a credential the pool signed (Ed25519) for this member, for a lease on this member (role
//      'lease', with the lease's fencing token) or for the pool itself (role 'pool': health checks, the fence
//      call). A lease credential passes only while its token is at or above the member's floor: the pool raises
//      the floor when a lease ends (POST /cinnamon-qa/fence), and every token the guard admits raises it too, so
//      an ended or older lease is refused and its open connections and MCP sessions are cut. Refused: 401.
// The pool's soft reset is a call here too (POST /cinnamon-qa/reset, pool credential): every MCP session on the
// server ends, its browser stays (guard-sessions.cjs says how and why).
// Everything else is forwarded unchanged, minus the credential, streamed both ways (Streamable HTTP keeps SSE
// responses open for the whole session).
//
// Why stateless credentials plus a floor, not a list of live leases pushed to the guard: a grant needs no call
// to the guard (it stays a store operation), the guard keeps one number per member, and a credential cannot be
// forged without the pool's private key. Why a signature rather than an HMAC: the guard holds only the public
// key, and a member's guard key is readable inside the member (container config, /proc/1/environ); with a
// shared secret a test that escaped into its member could mint itself credentials for later holders' leases.
// A verified credential is cached (one verification per lease, not per request). Lease end is the one moment the guard must hear of (to cut the old holder's
// sessions), and the pool does not hand the member out again until the guard has acknowledged it. A guard that
// (re)starts admits no lease until the pool sets its floor ("closed"): forgetting to fence fails loudly, never
// open.
//
// One file, two ways in, so there is one guard to change:
//   - the image: start-mcp.sh runs `node /opt/mcp/mcp-guard.cjs` on 0.0.0.0:$MCP_PORT (the published port) in
//     front of the server on 127.0.0.1:$MCP_SERVER_PORT, with MCP_GUARD_KEY / MCP_GUARD_MEMBER (main() below);
//   - the process runtime loads this module in-process (src/runtime/mcp-guard.ts, typed there) and calls
//     startMcpGuard() on 127.0.0.1:<member port> (a host agent: its bind address, with the advertised host:port
//     in allowedHosts).
// Plain Node, CommonJS, no dependencies: the image has nothing but node and this file and guard-credential.cjs
// (the credential format and the decision on one), which it re-exports. Tested by
// src/runtime/mcp-guard.test.ts and src/runtime/guard-credential.test.ts.
'use strict';
const http = require('node:http');
const { credentialDecision, signCredential, newCredentialKeys, isGuardKey } = require('./guard-credential.cjs');
const { createSessionBook } = require('./guard-sessions.cjs');

/**
 * Why a request must be refused (403), or undefined when it may pass. `port` is the port clients connect to
 * (the published / guard port, not the server's private one).
 * - Host must be `localhost:<port>` or `127.0.0.1:<port>` (case-insensitive, as hostnames are and as
 *   @playwright/mcp's own check is), or one of `allowedHosts`: a rebound name (`attacker.example`, with or
 *   without a port) fails.
 * - Origin, when present, must be `http://` + one of those hosts. Browsers send it on every cross-origin request
 *   (and on same-origin POST/DELETE); Node clients such as the MCP SDK send none, so a missing Origin passes.
 *   `null` (sandboxed frames, file:) is a foreign origin.
 * - `allowedHosts`: extra `host:port` values admitted as Host (a shared pool's member is reached from other
 *   machines as `<advertised address>:<port>`, issue 11). Exact values, never a wildcard.
 */
function mcpRequestRefusal(host, origin, port, allowedHosts = []) {
  const hosts = [`localhost:${port}`, `127.0.0.1:${port}`, ...allowedHosts.map((h) => h.toLowerCase())];
  if (host === undefined || !hosts.includes(host.toLowerCase())) {
    return `Host ${JSON.stringify(host ?? '')} refused: this MCP server only answers Host ${hosts.join(' or ')} (DNS rebinding guard)`;
  }
  if (origin !== undefined && !hosts.some((h) => `http://${h}` === origin.toLowerCase())) {
    return `Origin ${JSON.stringify(origin)} refused: this MCP server only answers Origin ${hosts.map((h) => `http://${h}`).join(' or ')} or none (cross-origin / DNS rebinding guard)`;
  }
  return undefined;
}

/** Where the pool sets a member's floor. Outside /mcp, so no MCP client ever reaches it by accident. */
const FENCE_PATH = '/cinnamon-qa/fence';
/** Where the pool soft-resets a member: every MCP session ended, the browser kept (guard-sessions.cjs). */
const RESET_PATH = '/cinnamon-qa/reset';
/** The MCP endpoint of @playwright/mcp's Streamable HTTP transport (the keeper's, and the path clients use). */
const MCP_PATH = '/mcp';
/**
 * Liveness of the guard and the server behind it, without a credential (Docker's HEALTHCHECK holds none): 200
 * when the server answers HTTP, 502 when not. Says nothing else.
 */
const HEALTH_PATH = '/cinnamon-qa/health';
// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not to the message: each side of the guard
// frames and keeps alive its own connection, so they are not copied across.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
function endToEnd(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/** Whether the server behind the guard answers HTTP: GET /mcp without a session (a live server says 400). */
function upstreamAnswers(upstreamPort, port) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port: upstreamPort, method: 'GET', path: '/mcp', agent: false, timeout: 2_000, headers: { host: `localhost:${port}` } },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(status !== 403 && status < 500 ? undefined : `the MCP server answered HTTP ${status}`);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
    req.on('error', (error) => resolve(`the MCP server did not answer: ${error.message}`));
    req.end();
  });
}

function refuse(req, res, status, why, member) {
  req.resume();
  const headers = { 'content-type': 'text/plain; charset=utf-8' };
  if (status === 401) headers['www-authenticate'] = `Bearer realm="cinnamon-qa pool member ${member}"`;
  res.writeHead(status, headers).end(`${why}\n`);
}

/** Reads a small JSON body (the fence call's); rejects past 1 KiB. */
function readJson(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      text += chunk;
      if (text.length > 1024) req.destroy(new Error('body over 1 KiB'));
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

/**
 * Starts the guard on `host`:`port` in front of the server on 127.0.0.1:`upstreamPort`; resolves once it
 * listens, rejects when it cannot. `key` (the pool's public key) and `member` (the pool member's id) turn the
 * credential rule on;
 * `key: null` turns it off (Host/Origin only: for measuring what the check costs, never in a pool). Keep-alive
 * towards clients is Node's default (idle sockets close after 5 s): cleanup validation relies on a finished
 * holder's idle sockets going away.
 * @returns `{ port, close(), unref() }`; close() stops listening and ends every open connection (SSE streams
 *   included) and is idempotent; unref() lets the process exit while the guard still listens.
 */
async function startMcpGuard({ port, upstreamPort, host = '127.0.0.1', key, member, allowedHosts = [] }) {
  if (key !== null && (!isGuardKey(key) || typeof member !== 'string' || member.length === 0)) {
    throw new TypeError('startMcpGuard: key must be the pool\'s public key (base64 DER SPKI, Ed25519; MemberCredentials.keyOf) with member set to the member id, or null to turn the credential check off');
  }
  if (!Array.isArray(allowedHosts) || !allowedHosts.every((h) => typeof h === 'string' && /^[^\s/*,]+:\d{1,5}$/.test(h))) {
    throw new TypeError(`startMcpGuard: allowedHosts must be exact host:port values (no wildcard), got ${JSON.stringify(allowedHosts)}`);
  }
  const extraHosts = new Set(allowedHosts.map((h) => h.toLowerCase()));
  // Keep-alive to the server so a tool call costs no extra TCP handshake behind the guard.
  const agent = new http.Agent({ keepAlive: true });
  /** Lowest lease token admitted; null while closed (see credentialDecision). */
  let floor = null;
  /** Client sockets opened with a lease credential, by token: cut when the floor passes it. */
  const leaseSockets = new Map();
  /** Every MCP session opened through the guard (lease ones with their token), and the guard's own keeper. */
  const sessions = createSessionBook({ upstreamPort, port, path: MCP_PATH });

  function cutBelow(limit) {
    let connections = 0;
    for (const [socket, token] of leaseSockets) {
      if (token >= limit) continue;
      leaseSockets.delete(socket);
      socket.destroy();
      connections++;
    }
    return { connections, sessions: sessions.endBelow(limit) };
  }

  function raiseFloor(to) {
    if (floor !== null && to <= floor) return cutBelow(floor);
    floor = to;
    sessions.newLease();
    return cutBelow(to);
  }

  async function fence(req, res) {
    let body;
    try {
      body = await readJson(req);
    } catch (error) {
      refuse(req, res, 400, `fence: the body must be JSON {"floor": <token>}: ${error.message}`, member);
      return;
    }
    const to = body && body.floor;
    if (!Number.isSafeInteger(to) || to < 1) {
      refuse(req, res, 400, `fence: floor must be a positive integer (the lowest lease token to admit), got ${JSON.stringify(to)}`, member);
      return;
    }
    const cut = raiseFloor(to);
    const ended = await cut.sessions;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ member, floor, cut: { connections: cut.connections, sessions: ended.length, sessionsNotEnded: ended.filter((ok) => !ok).length } }),
    );
  }

  async function softReset(req, res) {
    req.resume();
    const result = await sessions.reset(() => upstreamAnswers(upstreamPort, port));
    const ok = result.failed === 0 && result.down === undefined;
    res.writeHead(ok ? 200 : 502, { 'content-type': 'application/json' }).end(JSON.stringify({ member, ...result }));
  }

  function forward(req, res, token) {
    const path = req.url ?? '/';
    // The server admits only its local Host values: one of `allowedHosts` (checked by the guard already) is
    // forwarded as localhost:<port>, the local ones unchanged.
    const headers = endToEnd(req.headers);
    if (extraHosts.has(String(headers.host).toLowerCase())) headers.host = `localhost:${port}`;
    const upstream = http.request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path, headers, agent },
      (upstreamRes) => {
        const sessionId = upstreamRes.headers['mcp-session-id'];
        if (typeof sessionId === 'string') sessions.add(sessionId, token, path.split('?')[0]);
        const asked = req.headers['mcp-session-id'];
        if (req.method === 'DELETE' && typeof asked === 'string' && (upstreamRes.statusCode ?? 500) < 300) sessions.remove(asked);
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, endToEnd(upstreamRes.headers));
        // SSE: the headers must reach the client now, not with the first event.
        res.flushHeaders();
        upstreamRes.pipe(res);
        upstreamRes.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (error) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end(`MCP server behind the guard did not answer: ${error.message}\n`);
    });
    // A client that goes away (an SSE stream closed, a cancelled call) closes the server's side too, so the
    // server ends that stream instead of writing into a dead proxy connection.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  const server = http.createServer((req, res) => {
    const why = mcpRequestRefusal(req.headers.host, req.headers.origin, port, allowedHosts);
    if (why) {
      refuse(req, res, 403, why, member);
      return;
    }
    const path = (req.url ?? '').split('?')[0];
    if (path === HEALTH_PATH && req.method === 'GET') {
      req.resume();
      void upstreamAnswers(upstreamPort, port).then((problem) =>
        res.writeHead(problem ? 502 : 200, { 'content-type': 'text/plain; charset=utf-8' }).end(`${problem ?? 'ok'}\n`),
      );
      return;
    }
    const fenceCall = path === FENCE_PATH;
    const resetCall = path === RESET_PATH;
    const asked = req.headers['mcp-session-id'];
    if (typeof asked === 'string' && sessions.isKeeper(asked)) {
      refuse(req, res, 403, 'this MCP session is the guard\'s own (it keeps the browser running); open a session of your own', member);
      return;
    }
    if (key === null) {
      if (fenceCall) refuse(req, res, 404, 'fence: this guard checks no credentials, so it has no floor', member);
      else if (resetCall) refuse(req, res, 404, 'reset: this guard checks no credentials, so nobody may reset through it', member);
      else forward(req, res, undefined);
      return;
    }
    const decision = credentialDecision(key, member, floor, req.headers.authorization);
    if (!decision.admit) {
      refuse(req, res, 401, decision.why, member);
      return;
    }
    // The server never sees the credential (it has no use for it, and it must not reach its logs).
    delete req.headers.authorization;
    const { claims } = decision;
    if (fenceCall) {
      if (claims.r !== 'pool' || req.method !== 'POST') refuse(req, res, 403, 'fence: only the pool may move the floor (POST with a pool credential)', member);
      else void fence(req, res);
      return;
    }
    if (resetCall) {
      if (claims.r !== 'pool' || req.method !== 'POST') refuse(req, res, 403, 'reset: only the pool may reset the member (POST with a pool credential)', member);
      else void softReset(req, res);
      return;
    }
    if (claims.r !== 'lease') {
      forward(req, res, undefined);
      return;
    }
    // A newer lease admitted: every older one is over, whatever the pool has said so far.
    // The socket's token first: a newer holder reusing a kept-alive socket of an older lease is not cut with it.
    if (!leaseSockets.has(req.socket)) req.socket.once('close', () => leaseSockets.delete(req.socket));
    leaseSockets.set(req.socket, claims.t);
    if (decision.floor !== floor) raiseFloor(decision.floor);
    if (typeof asked === 'string') sessions.add(asked, claims.t, path);
    forward(req, res, claims.t);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Once listening, a server error (accept failing under fd exhaustion) must not end the guard, nor the test
  // process it may run in: the affected client sees its connection fail, which the health checks report.
  server.on('error', () => undefined);
  const activity = trackActivity(server);
  let closed;
  return {
    port,
    activity,
    close: () =>
      (closed ??= new Promise((resolve) => {
        sessions.close();
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      })),
    unref: () => void server.unref(),
  };
}

/**
 * When a connection last opened or closed or a request arrived, and how many connections are open: what an idle
 * stop (stopWhenIdle) decides on. The pool's health monitor connects every few seconds, so a member in a run is
 * never idle.
 */
function trackActivity(server) {
  let lastAt = Date.now();
  let open = 0;
  server.on('connection', (socket) => {
    open++;
    lastAt = Date.now();
    socket.once('close', () => {
      open--;
      lastAt = Date.now();
    });
  });
  server.on('request', () => (lastAt = Date.now()));
  return () => ({ lastAt, open });
}

/**
 * A warm pool's member (issue 13: kept between runs) stops itself after `idleMs` with no connection and no
 * request: `stop()` ends the server behind the guard, then the guard exits. Checked every tenth of idleMs (at
 * most every 30 s). Nothing of a warm pool runs forever after its last run, even when that run crashed.
 */
function stopWhenIdle(guard, idleMs, stop) {
  const timer = setInterval(() => {
    const { lastAt, open } = guard.activity();
    if (open > 0 || Date.now() - lastAt < idleMs) return;
    clearInterval(timer);
    void Promise.resolve()
      .then(stop)
      .catch(() => undefined)
      .then(() => guard.close())
      .then(() => process.exit(0));
  }, Math.min(30_000, Math.max(100, Math.floor(idleMs / 10))));
}

/** Ends a process group: SIGTERM, then SIGKILL after `graceMs` if any of it is left. */
async function endProcessGroup(pgid, graceMs) {
  const signal = (name) => {
    try {
      process.kill(-pgid, name);
      return true;
    } catch {
      return false;
    }
  };
  if (!signal('SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (!signal(0)) return;
  }
  signal('SIGKILL');
}

/** The image's entry: ports from the environment, every interface (docker-proxy forwards from the host). */
function main() {
  const port = Number(process.env.MCP_PORT);
  const upstreamPort = Number(process.env.MCP_SERVER_PORT);
  if (!Number.isInteger(port) || !Number.isInteger(upstreamPort) || port === upstreamPort) {
    console.error(`mcp-guard: MCP_PORT (${process.env.MCP_PORT}) and MCP_SERVER_PORT (${process.env.MCP_SERVER_PORT}) must be two different ports`);
    process.exit(2);
  }
  const key = process.env.MCP_GUARD_KEY ?? '';
  const member = process.env.MCP_GUARD_MEMBER ?? '';
  if (!isGuardKey(key) || member === '') {
    console.error('mcp-guard: MCP_GUARD_KEY (the pool\'s public key, base64 DER SPKI, Ed25519) and MCP_GUARD_MEMBER (the pool member id) must be set; the pool sets them when it starts the container');
    process.exit(2);
  }
  // MCP_GUARD_HOSTS: extra Host values (comma-separated host:port) a shared pool's member is reached as.
  const allowedHosts = (process.env.MCP_GUARD_HOSTS ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');
  // MCP_GUARD_BIND: the process runtime's warm members run this file as a process of its own on 127.0.0.1.
  const host = process.env.MCP_GUARD_BIND || '0.0.0.0';
  // MCP_GUARD_IDLE_MS with MCP_GUARD_IDLE_PGID: a warm member; after that long idle, end that process group (the
  // server and its browser) and exit.
  const idleMs = Number(process.env.MCP_GUARD_IDLE_MS ?? '');
  const idlePgid = Number(process.env.MCP_GUARD_IDLE_PGID ?? '');
  startMcpGuard({ port, upstreamPort, host, key, member, allowedHosts }).then(
    (guard) => {
      if (Number.isSafeInteger(idleMs) && idleMs > 0 && Number.isSafeInteger(idlePgid) && idlePgid > 1) stopWhenIdle(guard, idleMs, () => endProcessGroup(idlePgid, 2_000));
    },
    (error) => {
      console.error(`mcp-guard: cannot listen on ${host}:${port}: ${error.message}`);
      process.exit(1);
    },
  );
}

module.exports = { mcpRequestRefusal, startMcpGuard, credentialDecision, signCredential, newCredentialKeys, FENCE_PATH, RESET_PATH, HEALTH_PATH };
if (require.main === module) main();
