// A tiny HTTP server for the network smoke test: `node page-server.mjs HOST TOKEN` serves one HTML page that
// contains TOKEN on an OS-chosen port, and prints `listening PORT` once it accepts connections.
import { createServer } from 'node:http';

const [host = '0.0.0.0', token = 'no-token'] = process.argv.slice(2);
const server = createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  response.end(`<!doctype html><html><head><title>netns page</title></head><body><p id="token">${token}</p><p id="path">${request.url}</p></body></html>`);
});
server.listen(0, host, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
