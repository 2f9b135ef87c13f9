--[[
  PoolStore.renew: extends an active lease to now + ttlMs (token-checked), with its key's safety-net TTL
  and the TTLs of the grant pickup and the granted request's record.

  KEYS[1] leaseExpiry  ZSET leaseId -> expiresAt
  KEYS[2] leasePrefix  (+ leaseId)
  KEYS[3] endedPrefix  (+ leaseId)
  KEYS[4] grantPrefix  (+ requestId)
  KEYS[5] grantedRequestPrefix (+ requestId)

  ARGV[1] leaseId
  ARGV[2] token
  ARGV[3] now (epoch ms), or 'redis' for Redis' clock
  ARGV[4] ttlMs
  ARGV[5] lease key TTL in ms (ttl + grace)

  Returns { 0, leaseJson }
       or { ERR.UNKNOWN_LEASE } | { ERR.LEASE_ENDED, endedJson } | { ERR.STALE_TOKEN, containerId } |
          { ERR.LEASE_EXPIRED, leaseJson } | { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"
--- @include "lease"

local k = { leaseExpiry = KEYS[1], leasePrefix = KEYS[2], endedPrefix = KEYS[3], grantPrefix = KEYS[4], grantedRequestPrefix = KEYS[5] }
local leaseId, token, now, ttlMs, leaseKeyTtlMs = ARGV[1], ARGV[2], resolveNow(ARGV[3]), ARGV[4], ARGV[5]

return run(function()
  local _, lease = activeLease(k, leaseId, token, now)
  lease.expiresAt = tonumber(now) + tonumber(ttlMs)
  lease.ttlMs = tonumber(ttlMs)
  local updated = cjson.encode(lease)
  redis.call('SET', k.leasePrefix .. leaseId, updated, 'PX', leaseKeyTtlMs)
  redis.call('ZADD', k.leaseExpiry, 'XX', lease.expiresAt, leaseId)
  redis.call('PEXPIRE', k.grantPrefix .. lease.requestId, leaseKeyTtlMs)
  redis.call('PEXPIRE', k.grantedRequestPrefix .. lease.requestId, leaseKeyTtlMs)
  return { 0, updated }
end)
