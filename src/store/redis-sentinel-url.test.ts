import { describe, expect, it } from 'vitest';
import { PoolError } from '../errors/pool-error.js';
import { redactUrl } from './redact-url.js';
import { DEFAULT_SENTINEL_PORT, isSentinelUrl, parseSentinelUrl } from './redis-sentinel-url.js';

function refusal(url: string): PoolError {
  try {
    parseSentinelUrl(url);
  } catch (error) {
    if (error instanceof PoolError) return error;
    throw error;
  }
  throw new Error(`${url} was accepted`);
}

describe('redis-sentinel:// URLs', () => {
  it('reads one or several sentinels and the master name', () => {
    expect(parseSentinelUrl('redis-sentinel://127.0.0.1:26380/mymaster')).toEqual({ sentinels: [{ host: '127.0.0.1', port: 26380 }], name: 'mymaster' });
    expect(parseSentinelUrl('redis-sentinel://a.example:1,b.example,[::1]:3/pool-1')).toEqual({
      sentinels: [
        { host: 'a.example', port: 1 },
        { host: 'b.example', port: DEFAULT_SENTINEL_PORT },
        { host: '::1', port: 3 },
      ],
      name: 'pool-1',
    });
  });

  it('reads a password (with or without a user), percent-decoded', () => {
    expect(parseSentinelUrl('redis-sentinel://:s%40cret@h:5/m')).toEqual({ sentinels: [{ host: 'h', port: 5 }], name: 'm', password: 's@cret' });
    expect(parseSentinelUrl('redis-sentinel://app:pw@h:5/m')).toMatchObject({ username: 'app', password: 'pw' });
  });

  it('tells sentinel URLs from plain ones', () => {
    expect(isSentinelUrl('redis-sentinel://h/m')).toBe(true);
    expect(isSentinelUrl('REDIS-SENTINEL://h/m')).toBe(true);
    expect(isSentinelUrl('redis://h:6379')).toBe(false);
    expect(isSentinelUrl('rediss://h:6379')).toBe(false);
  });

  it.each([
    ['redis-sentinel://h:26379', 'master name is missing'],
    ['redis-sentinel:///m', 'no sentinel address'],
    ['redis-sentinel://h:0/m', 'port 0'],
    ['redis-sentinel://h:99999/m', 'port 99999'],
    ['redis-sentinel://h:port/m', 'not host:port'],
    ['redis-sentinel://h,,k/m', 'not host:port'],
    ['redis-sentinel://h/m/extra', 'master name'],
    ['redis-sentinel://pw@h/m', "':password@'"],
    ['redis://h/m', 'does not start with redis-sentinel://'],
  ])('refuses %s with INVALID_OPTIONS naming the form to use', (url, why) => {
    const error = refusal(url);
    expect(error.code).toBe('INVALID_OPTIONS');
    expect(error.message).toContain(why);
    expect(error.message).toContain('Use redis-sentinel://[:password@]host:port[,host:port...]/<masterName>');
  });

  it('never shows the password in a refusal or a log line', () => {
    const error = refusal('redis-sentinel://:topsecret@h:0/m');
    expect(error.message).not.toContain('topsecret');
    expect(JSON.stringify(error.data)).not.toContain('topsecret');
    expect(redactUrl('redis-sentinel://:topsecret@h1:1,h2:2/m')).toBe('redis-sentinel://:***@h1:1,h2:2/m');
    expect(redactUrl('redis-sentinel://h1:1,h2:2/m')).toBe('redis-sentinel://h1:1,h2:2/m');
  });
});
