import { describe, expect, it } from 'vitest';
import { PoolError } from '../errors/pool-error.js';
import { aclDeniedError, poolKeyPrefix, REDIS_ACL_COMMANDS, redisAclRule, redisAclSetUser } from './redis-acl.js';
import { redisFailure } from './redis-errors.js';
import { RedisKeys } from './redis-keys.js';
import { DEFAULT_LUA_DIR, loadScripts } from './redis-scripts.js';

describe('redisAclRule', () => {
  it('allows only the listed commands, and keys and channels under "<prefix>:" only', () => {
    const rule = redisAclRule('cinnamon-pool:team-a');
    expect(rule.startsWith('resetkeys resetchannels -@all ')).toBe(true);
    expect(rule).toContain(' +evalsha +eval ');
    expect(rule.split(' ').filter((part) => part.startsWith('+'))).toEqual(Object.keys(REDIS_ACL_COMMANDS).map((c) => `+${c}`));
    // The ':' before '*' keeps pool 'team-a2' out of pool 'team-a's grant.
    expect(rule.endsWith(' ~cinnamon-pool:team-a:* &cinnamon-pool:team-a:*')).toBe(true);
  });

  it("takes a prefix's glob characters literally and keeps a Cluster hash tag as it is", () => {
    expect(redisAclRule('pool*[x]?')).toContain(' ~pool\\*\\[x\\]\\?:* ');
    expect(redisAclRule('{cinnamon-qa}')).toContain(' ~{cinnamon-qa}:* &{cinnamon-qa}:*');
  });

  it('refuses a prefix the store would refuse', () => {
    expect(() => redisAclRule('has space')).toThrow(PoolError);
  });

  it('prints one ACL SETUSER line for a user, with a password to replace', () => {
    expect(redisAclSetUser(poolKeyPrefix('cinnamon-qa'))).toBe(`ACL SETUSER cinnamon-pool on >CHANGE-ME ${redisAclRule('cinnamon-pool:cinnamon-qa')}`);
    expect(redisAclSetUser('p', 'ci-shards').startsWith('ACL SETUSER ci-shards on >')).toBe(true);
    expect(() => redisAclSetUser('p', 'bad user')).toThrow(/Invalid Redis user name/);
  });

  it('lists every command the Lua scripts call (Redis checks calls inside scripts against the ACL too)', () => {
    const called = new Set<string>();
    for (const script of loadScripts(DEFAULT_LUA_DIR).values()) {
      for (const match of script.lua.matchAll(/redis\.p?call\(\s*'([A-Za-z]+)'/g)) called.add(match[1]!.toLowerCase());
    }
    expect(called.size).toBeGreaterThan(10);
    const missing = [...called].filter((command) => !(command in REDIS_ACL_COMMANDS));
    expect(missing).toEqual([]);
  });
});

describe('aclDeniedError', () => {
  // Redis 7.0.15's own words (checked on this machine's redis-server).
  const COMMAND = "NOPERM this user has no permissions to run the 'hgetall' command";
  const KEY = 'NOPERM this user has no permissions to access one of the keys used as arguments';
  const CHANNEL = 'NOPERM this user has no permissions to access one of the channels used as arguments';
  const IN_SCRIPT = "ERR The user executing the script can't run this command or subcommand script: 83fe, on @user_script:1.";

  it('names the refused command, points at `cinnamon-pool acl` with the prefix, and keeps what Redis said', () => {
    const error = aclDeniedError(new Error(COMMAND), 'cinnamon-pool:a', 'listContainers')!;
    expect(error.code).toBe('STORE_PERMISSION_DENIED');
    expect(error.message).toContain('the command HGETALL during listContainers');
    expect(error.message).toContain('cinnamon-pool acl --prefix cinnamon-pool:a');
    expect(error.data).toMatchObject({ command: 'hgetall', prefix: 'cinnamon-pool:a', operation: 'listContainers', redisMessage: COMMAND });
  });

  it('says a key or channel outside the prefix was refused, and a command inside a script (ACL LOG names it)', () => {
    expect(aclDeniedError(new Error(KEY), 'p', 'getContainer')!.message).toContain("a key outside the prefix 'p:*'");
    expect(aclDeniedError(new Error(CHANNEL), 'p', 'subscribe')!.message).toContain("a channel outside 'p:*'");
    const inScript = aclDeniedError(new Error(IN_SCRIPT), 'p', 'enqueue')!;
    expect(inScript.message).toContain('a command the enqueue script runs (ACL LOG on the server names it)');
    expect(inScript.data['command']).toBeUndefined();
  });

  it("finds the refusal of a MULTI's queued command (EXECABORT) or of MULTI itself ('EXEC without MULTI')", () => {
    const execAbort = Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [new Error(KEY)] });
    expect(aclDeniedError(execAbort, 'p', 'listContainers')!.message).toContain("a key outside the prefix 'p:*'");
    const noMulti = Object.assign(new Error('ERR EXEC without MULTI'), { previousErrors: [new Error("NOPERM this user has no permissions to run the 'multi' command")] });
    expect(aclDeniedError(noMulti, 'p', 'signingKeys')!.data['command']).toBe('multi');
    expect(aclDeniedError(Object.assign(new Error('EXECABORT'), { previousErrors: [new Error('WRONGTYPE')] }), 'p', 'x')).toBeUndefined();
  });

  it('leaves other errors alone; redisFailure maps NOPERM before its STORE_UNAVAILABLE fallback', () => {
    expect(aclDeniedError(new Error('ECONNREFUSED 127.0.0.1:6379'), 'p', 'x')).toBeUndefined();
    const keys = new RedisKeys('p');
    expect(redisFailure(new Error(COMMAND), keys, 'listContainers', 'localhost:6379').code).toBe('STORE_PERMISSION_DENIED');
    expect(redisFailure(new Error('Connection is closed.'), keys, 'listContainers', 'localhost:6379').code).toBe('STORE_UNAVAILABLE');
  });
});
