--[[
  PoolStore.release: ends an active lease (token-checked) as 'released'; its container goes Allocated ->
  Cleaning.

  KEYS[1] leaseExpiry  ZSET leaseId -> expiresAt
  KEYS[2] containers   HASH containerId -> ContainerRecord JSON
  KEYS[3] counters     HASH
  KEYS[4] leasePrefix  (+ leaseId)
  KEYS[5] endedPrefix  (+ leaseId)
  KEYS[6] grantPrefix  (+ requestId)

  ARGV[1] leaseId
  ARGV[2] token
  ARGV[3] now (epoch ms), or 'redis' for Redis' clock
  ARGV[4] ended-lease record TTL in ms
  ARGV[5] recycle pub/sub channel (the container id is published once it is Cleaning)

  Returns { 0, leaseJson }
       or { ERR.UNKNOWN_LEASE } | { ERR.LEASE_ENDED, endedJson } | { ERR.STALE_TOKEN, containerId } |
          { ERR.LEASE_EXPIRED, leaseJson } | { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"
--- @include "lease"

local k = {
  leaseExpiry = KEYS[1], containers = KEYS[2], counters = KEYS[3],
  leasePrefix = KEYS[4], endedPrefix = KEYS[5], grantPrefix = KEYS[6],
}
local leaseId, token, now, endedTtlMs = ARGV[1], ARGV[2], resolveNow(ARGV[3]), ARGV[4]

return run(function()
  local raw, lease = activeLease(k, leaseId, token, now)
  local containerRaw = redis.call('HGET', k.containers, lease.containerId)
  local container = nil
  if containerRaw then container = decode(containerRaw, validContainer, k.containers, lease.containerId) end

  -- apply
  endLease(k, leaseId, raw, lease, 'released', now, endedTtlMs)
  -- Guarded: a container re-registered since the grant no longer belongs to this lease.
  if container and container.leaseId == leaseId then
    container.leaseId = nil
    setState(container, 'Cleaning', now, nil)
    redis.call('HSET', k.containers, lease.containerId, cjson.encode(container))
    publishIds(ARGV[5], { lease.containerId })
  end
  redis.call('HINCRBY', k.counters, 'releases', 1)
  return { 0, raw }
end)
