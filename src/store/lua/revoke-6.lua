--[[
  PoolStore.revoke: the container died or failed. Its active lease (if any) ends as 'revoked'; the container
  goes to Unhealthy from Allocated or Available, with the error kept and counted.

  KEYS[1] containers   HASH containerId -> ContainerRecord JSON
  KEYS[2] leaseExpiry  ZSET leaseId -> expiresAt
  KEYS[3] counters     HASH
  KEYS[4] leasePrefix  (+ leaseId)
  KEYS[5] endedPrefix  (+ leaseId)
  KEYS[6] grantPrefix  (+ requestId)

  ARGV[1] containerId
  ARGV[2] now (epoch ms), or 'redis' for Redis' clock
  ARGV[3] error message (the container's lastError)
  ARGV[4] ended-lease record TTL in ms
  ARGV[5] recycle pub/sub channel (the container id is published once it is Unhealthy)
  ARGV[6] host lease key of the writing agent, or '' (no epoch check)
  ARGV[7] the agent's epoch
  ARGV[8] the agent's host id, or '' (an agent may revoke only on its own host's members)

  Returns { 0, leaseJson | '' }
       or { ERR.UNKNOWN_CONTAINER } | { ERR.REVOKE_INVALID_STATE, actualState } | { ERR.STALE_EPOCH, heldEpoch } |
          { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"

local k = {
  containers = KEYS[1], leaseExpiry = KEYS[2], counters = KEYS[3],
  leasePrefix = KEYS[4], endedPrefix = KEYS[5], grantPrefix = KEYS[6],
}
local id, now, message, endedTtlMs = ARGV[1], resolveNow(ARGV[2]), ARGV[3], ARGV[4]

return run(function()
  checkEpoch(ARGV[6], ARGV[7])
  local raw = redis.call('HGET', k.containers, id)
  if not raw then fail(ERR.UNKNOWN_CONTAINER) end
  local container = decode(raw, validContainer, k.containers, id)
  checkOwner(container, ARGV[8])
  if container.state ~= 'Allocated' and container.state ~= 'Available' then
    fail(ERR.REVOKE_INVALID_STATE, container.state)
  end
  local leaseId = container.leaseId
  local active = leaseId ~= nil and redis.call('ZSCORE', k.leaseExpiry, leaseId) ~= false
  local leaseRaw, lease = false, nil
  if active then
    local leaseKey = k.leasePrefix .. leaseId
    leaseRaw = redis.call('GET', leaseKey)
    if leaseRaw then lease = decode(leaseRaw, validLease, leaseKey) end
  end

  -- apply
  if active then
    endLease(k, leaseId, leaseRaw, lease, 'revoked', now, endedTtlMs)
    redis.call('HINCRBY', k.counters, 'revocations', 1)
  end
  container.leaseId = nil
  setState(container, 'Unhealthy', now, message)
  redis.call('HSET', k.containers, id, cjson.encode(container))
  publishIds(ARGV[5], { id })
  return { 0, leaseRaw or '' }
end)
