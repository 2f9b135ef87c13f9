// `node guard-watch.mjs URL HEADER VALUE`: run inside a host's namespace, asks the member's guard every 25 ms with a
// holder's lease credential (GET URL, header HEADER: VALUE) and reports on the machine's real-time clock (Date.now()):
//   {"type":"admitted",...}  once, at the first answer the guard let through (anything but 401),
//   {"type":"refused","lastAdmitted":{sentAt,receivedAt},"firstRefused":{sentAt,receivedAt},"admitted":N}
// at the first 401 (the guard refused the credential), then exits 0. A request that fails (connection refused,
// timeout) is retried and counted, never taken for either answer.
const [url, header, value] = process.argv.slice(2);
const INTERVAL_MS = 25;
let admitted = 0;
let errors = 0;
let lastAdmitted;
for (;;) {
  const sentAt = Date.now();
  let status;
  try {
    const response = await fetch(url, { headers: { [header]: value }, signal: AbortSignal.timeout(5_000) });
    status = response.status;
    await response.arrayBuffer();
  } catch {
    errors++;
  }
  const receivedAt = Date.now();
  if (status === 401) {
    process.stdout.write(`${JSON.stringify({ type: 'refused', lastAdmitted, firstRefused: { sentAt, receivedAt }, admitted, errors })}\n`);
    process.exit(0);
  }
  if (status !== undefined) {
    if (admitted === 0) process.stdout.write(`${JSON.stringify({ type: 'admitted', status, sentAt, receivedAt })}\n`);
    admitted++;
    lastAdmitted = { sentAt, receivedAt, status };
  }
  await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
}
