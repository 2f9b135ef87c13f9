// The MCP sessions behind a member's guard (mcp-guard.cjs), and the soft reset the pool asks the guard for (issue
// 13): end every session on the server, keep its browser. Plain Node, CommonJS, no dependencies, like the guard.
//
// Why the guard: @playwright/mcp (0.0.83, --isolated) gives each HTTP session its own browser context in one shared
// browser, closes that context when the session ends (DELETE with its id), and closes the browser when its last
// session ends. Only a session's client and the guard, which every request passes, know the session ids; no tool
// of a session reaches another session's context. So the guard ends them all (contexts: pages, cookies, storage,
// routes) while one session of its own, the keeper, stays attached to the browser: no Chromium exit and relaunch,
// no `docker exec`. Processes a holder started itself are not this reset's business (medium, and the cleanup
// between leases, end them).
//
// The keeper is attached to the browser by a tool call (the server creates a session's context, and launches the
// browser if none runs, on its first tool call), just before the first reset that has sessions to end, and again
// before the first such reset after a new lease was admitted (the cleanup before every lease ended the browser it
// held). A tool call per reset would cost more than the DELETEs; so a browser that ended otherwise within a lease
// (a medium reset, a crash) is not noticed, and the next soft reset closes its successor with the last session,
// as a soft reset always did before. The keeper never opens the GET event stream, so the server never pings it
// and never drops it; its requests use their own connections (closed after each), never the forwarding agent,
// and no client can address it (the guard refuses its id).
'use strict';
const http = require('node:http');

/** What the keeper says to the server. No `roots` capability: the server would wait for an event stream. */
const KEEPER_CLIENT = { name: 'cinnamon-qa-guard-keeper', version: '1' };
const MCP_PROTOCOL_VERSION = '2025-06-18';
/** A tool call that needs a browser context (so the server attaches the keeper) and does nothing in it. */
const ATTACH_CALL = { name: 'browser_tabs', arguments: { action: 'list' } };
/** Budget of one keeper request and of one DELETE. The attach may launch Chromium (0.7 s here, seconds at load). */
const KEEPER_TIMEOUT_MS = 30_000;
const DELETE_TIMEOUT_MS = 5_000;
/** Sessions remembered at most (a member serves one holder at a time: a handful each). */
const MAX_SESSIONS = 1024;

/**
 * One plain request to the server behind the guard (its own connection, closed afterwards). Resolves to
 * `{ status, headers, body }`; rejects on a connection error or past `timeoutMs`.
 */
function upstreamRequest({ upstreamPort, port }, method, path, headers, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: upstreamPort, method, path, agent: false, timeout: timeoutMs, headers: { host: `localhost:${port}`, ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          if (text.length < 65_536) text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The JSON-RPC message with `id` in a Streamable HTTP answer: plain JSON, or an event stream whose `data:` lines
 * carry the messages. undefined when there is none.
 */
function rpcAnswer(response, id) {
  const type = String(response.headers['content-type'] ?? '');
  const texts = type.includes('text/event-stream')
    ? response.body.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim())
    : [response.body];
  for (const text of texts) {
    try {
      const message = JSON.parse(text);
      if (message && message.id === id) return message;
    } catch {
      // Not a message (a comment line, a partial body): look further.
    }
  }
  return undefined;
}

/**
 * The sessions behind one guard. `target`: `{ upstreamPort, port, path }` (the server's private port, the guard's
 * port that the server's Host check expects, the MCP path).
 */
function createSessionBook(target) {
  /** Every session the guard has seen opened, by id: `{ token, path }` (token undefined: not a lease's). */
  const sessions = new Map();
  /** The keeper: its session id once initialized; `attached` false while it may not hold the running browser. */
  let keeperId;
  let attached = false;
  let nextId = 1;
  let closed = false;
  /** Resets run one at a time: a second one waits for the first (the pool asks once per member anyway). */
  let queue = Promise.resolve();

  async function keeperCall(method, params, notification) {
    const id = notification ? undefined : nextId++;
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MCP_PROTOCOL_VERSION };
    if (keeperId !== undefined) headers['mcp-session-id'] = keeperId;
    const message = notification ? { jsonrpc: '2.0', method, params } : { jsonrpc: '2.0', id, method, params };
    const response = await upstreamRequest(target, 'POST', target.path, headers, JSON.stringify(message), KEEPER_TIMEOUT_MS);
    if (response.status === 404 && keeperId !== undefined) {
      // The server no longer knows the keeper (it restarted): the next attach opens a new one.
      keeperId = undefined;
      throw new Error('the server no longer knows the keeper session (restarted?)');
    }
    if (response.status >= 300) throw new Error(`${method}: the MCP server answered HTTP ${response.status}: ${response.body.slice(0, 200).trim()}`);
    if (notification) return response;
    const answer = rpcAnswer(response, id);
    if (!answer) throw new Error(`${method}: no JSON-RPC answer in the server's reply`);
    if (answer.error) throw new Error(`${method}: ${answer.error.message ?? JSON.stringify(answer.error)}`);
    return { response, result: answer.result };
  }

  /** Opens the keeper session when there is none, then attaches it to the running browser (a tool call). */
  async function attach() {
    if (keeperId === undefined) {
      const { response } = await keeperCall('initialize', { protocolVersion: MCP_PROTOCOL_VERSION, capabilities: {}, clientInfo: KEEPER_CLIENT });
      const id = response.headers['mcp-session-id'];
      if (typeof id !== 'string' || id === '') throw new Error('initialize: the server gave the keeper no session id');
      keeperId = id;
      await keeperCall('notifications/initialized', undefined, true);
    }
    const { result } = await keeperCall('tools/call', ATTACH_CALL);
    if (result && result.isError) {
      const text = (result.content ?? []).map((c) => c.text ?? '').join(' ').slice(0, 300);
      throw new Error(`the keeper's ${ATTACH_CALL.name} call failed: ${text}`);
    }
    attached = true;
  }

  /** Attaches the keeper; resolves to undefined, or to why it failed (the browser then closes with the others). */
  function attachOnce() {
    return attach().then(
      () => undefined,
      (error) => {
        attached = false;
        return error.message;
      },
    );
  }

  /** DELETE of one session, as its client would: 'ended', 'gone' (the server no longer knew it) or 'failed'. */
  async function end(id, path) {
    try {
      const { status } = await upstreamRequest(target, 'DELETE', path, { 'mcp-session-id': id }, undefined, DELETE_TIMEOUT_MS);
      return status < 300 ? 'ended' : status === 404 ? 'gone' : 'failed';
    } catch {
      return 'failed';
    }
  }

  async function reset(answers) {
    // Attached first when it may not hold this browser: ending the last session would close the browser.
    const keeper = !attached && sessions.size > 0 && !closed ? await attachOnce() : undefined;
    const keeperAttached = attached;
    // Taken after the attach: a session opened meanwhile ends too.
    const ids = [...sessions];
    sessions.clear();
    const outcomes = await Promise.all(ids.map(([id, s]) => end(id, s.path)));
    const count = (kind) => outcomes.filter((o) => o === kind).length;
    // No session answered: ask the server directly whether it still answers HTTP.
    const down = outcomes.some((o) => o !== 'failed') ? undefined : await answers();
    return { ended: count('ended'), gone: count('gone'), failed: count('failed'), keeperAttached, ...(keeper !== undefined ? { keeper } : {}), ...(down !== undefined ? { down } : {}) };
  }

  return {
    /** A session seen opened (or used) through the guard; `token`: its lease's, undefined for others. */
    add(id, token, path) {
      if (id === keeperId || sessions.has(id)) return;
      // Bounded: clients end their sessions (DELETE), the fence and the reset take theirs out; past the bound the
      // oldest is forgotten (a long-gone health check's, most likely), never refused.
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value);
      sessions.set(id, { token, path });
    },
    /** A session its client ended (DELETE answered 2xx). */
    remove(id) {
      sessions.delete(id);
    },
    /** True for the keeper's id: no client may use it. */
    isKeeper(id) {
      return keeperId !== undefined && id === keeperId;
    },
    /** Takes out the lease sessions below `limit` (the fence) and ends them; resolves to one boolean each. */
    endBelow(limit) {
      const ended = [...sessions].filter(([, s]) => s.token !== undefined && s.token < limit);
      for (const [id] of ended) sessions.delete(id);
      return Promise.all(ended.map(([id, s]) => end(id, s.path).then((o) => o === 'ended')));
    },
    /** A new lease was admitted: the cleanup before it ended the browser the keeper held. */
    newLease() {
      attached = false;
    },
    /**
     * Ends every session but the keeper's; `answers()` resolves to why the server does not answer HTTP, or
     * undefined. Resolves to `{ ended, gone, failed, keeperAttached, keeper?, down? }`: keeperAttached, the keeper held the
     * browser when the others ended (as far as the guard can tell); keeper, why attaching it failed; down, why the
     * server does not answer.
     */
    reset(answers) {
      const run = queue.then(() => reset(answers));
      queue = run.catch(() => undefined);
      return run;
    },
    /** No more keeper attaches (the guard is closing). */
    close() {
      closed = true;
    },
  };
}

module.exports = { createSessionBook };
