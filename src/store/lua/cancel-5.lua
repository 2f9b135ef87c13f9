--[[
  PoolStore.cancel: removes a queued request; if it was granted meanwhile, reports the active lease.

  KEYS[1] queue        ZSET requestId -> score
  KEYS[2] requests     HASH requestId -> QueuedRequest JSON
  KEYS[3] leaseExpiry  ZSET leaseId -> expiresAt
  KEYS[4] leasePrefix  (+ leaseId)
  KEYS[5] grantPrefix  (+ requestId)

  ARGV[1] requestId

  Returns { 0, 'cancelled', requestJson } | { 0, 'granted', leaseJson } | { 0, 'unknown' }
       or { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"

local k = { queue = KEYS[1], requests = KEYS[2], leaseExpiry = KEYS[3], leasePrefix = KEYS[4], grantPrefix = KEYS[5] }
local requestId = ARGV[1]

return run(function()
  local raw = redis.call('HGET', k.requests, requestId)
  if raw then
    decode(raw, validRequest, k.requests, requestId)
    redis.call('ZREM', k.queue, requestId)
    redis.call('HDEL', k.requests, requestId)
    return { 0, 'cancelled', raw }
  end
  local leaseId = redis.call('GET', k.grantPrefix .. requestId)
  if leaseId and redis.call('ZSCORE', k.leaseExpiry, leaseId) then
    local leaseRaw = redis.call('GET', k.leasePrefix .. leaseId)
    if leaseRaw then return { 0, 'granted', leaseRaw } end
  end
  return { 0, 'unknown' }
end)
