// `node http-get.mjs URL`: prints one JSON line {"status":200,"body":"..."} or {"error":"..."}; exits 0.
const [url] = process.argv.slice(2);
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  process.stdout.write(`${JSON.stringify({ status: response.status, body: await response.text() })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String(error?.cause?.code ?? error) })}\n`);
}
