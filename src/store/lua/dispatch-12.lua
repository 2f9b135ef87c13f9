--[[
  PoolStore.dispatch: hands Available containers to queued requests in service order, atomically.

  KEYS[1] queue          ZSET requestId -> rank * 2^32 + seq
  KEYS[2] requests       HASH requestId -> QueuedRequest JSON
  KEYS[3] containers     HASH containerId -> ContainerRecord JSON
  KEYS[4] containerOrder ZSET containerId -> registration index
  KEYS[5] leaseExpiry    ZSET leaseId -> expiresAt
  KEYS[6] tokenSeq       STRING counter
  KEYS[7] counters       HASH
  KEYS[8] leasePrefix    (+ leaseId)
  KEYS[9] grantPrefix    (+ requestId)
  KEYS[10] grantedRequestPrefix (+ requestId)
  KEYS[11] hosts         HASH hostId -> HostRecord JSON (members of a draining or lost host get no grant)
  KEYS[12] hostLeasePrefix (+ hostId)

  ARGV[1] now (epoch ms), or 'redis' for Redis' clock
  ARGV[2] lease ttlMs
  ARGV[3] lease key TTL in ms (ttl + grace)
  ARGV[4] lease id nonce
  ARGV[5] grants pub/sub channel

  Returns { 0, requestJson1, leaseJson1, ... } or { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"
--- @include "dispatch"

local k = {
  queue = KEYS[1], requests = KEYS[2], containers = KEYS[3], containerOrder = KEYS[4], leaseExpiry = KEYS[5],
  tokenSeq = KEYS[6], counters = KEYS[7], leasePrefix = KEYS[8], grantPrefix = KEYS[9],
  grantedRequestPrefix = KEYS[10], hosts = KEYS[11], hostLeasePrefix = KEYS[12], grantsChannel = ARGV[5],
}
local now, ttlMs, leaseKeyTtlMs, nonce = resolveNow(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]

return run(function()
  -- Nothing queued: skip decoding the containers at all (the common call after a cleanup finishes).
  if redis.call('ZCARD', k.queue) == 0 then return { 0 } end
  local grants = planDispatch(k, loadContainers(k), now, nil)
  local out = applyGrants(k, grants, now, ttlMs, leaseKeyTtlMs, nonce)
  table.insert(out, 1, 0)
  return out
end)
