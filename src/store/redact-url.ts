/** A connection URL fit for logs and error messages: the password is masked. */
export function redactUrl(url: string): string {
  // A redis-sentinel:// URL lists several host:port pairs, which WHATWG URL parsing refuses: mask by hand.
  if (/^redis-sentinel:\/\//i.test(url)) return url.replace(/^([^/]*\/\/[^:@/]*:)[^@/]*@/, '$1***@');
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
