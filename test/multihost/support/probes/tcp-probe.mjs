// `node tcp-probe.mjs HOST PORT [LINE]`: connects, sends LINE + CRLF when given, and prints one JSON line:
// {"connected":true,"reply":"..."} or {"connected":false,"error":"ECONNREFUSED"}. Always exits 0: the test
// reads the outcome from the JSON.
import { connect } from 'node:net';

const [host, port, line] = process.argv.slice(2);
const socket = connect({ host, port: Number(port) });
let reply = '';
let connected = false;
const finish = (result) => {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  socket.destroy();
  process.exit(0);
};
socket.setTimeout(10_000, () => finish({ connected, error: 'TIMEOUT', reply }));
socket.on('connect', () => {
  connected = true;
  if (line === undefined) finish({ connected });
  else socket.write(`${line}\r\n`);
});
socket.on('data', (chunk) => {
  reply += chunk.toString();
  if (reply.includes('\n')) finish({ connected, reply: reply.trim() });
});
socket.on('error', (error) => finish({ connected, error: error.code ?? error.message }));
