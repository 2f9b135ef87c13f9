--[[
  PoolStore.reclaimExpired: ends every active lease with expiresAt <= now as 'expired'; each container goes
  Allocated -> Cleaning. The expiry index is the source of truth: an index entry whose lease key's safety-net
  TTL already fired is still reclaimed (its container is found by leaseId), but cannot be returned.

  KEYS[1] leaseExpiry  ZSET leaseId -> expiresAt
  KEYS[2] containers   HASH containerId -> ContainerRecord JSON
  KEYS[3] counters     HASH
  KEYS[4] leasePrefix  (+ leaseId)
  KEYS[5] endedPrefix  (+ leaseId)
  KEYS[6] grantPrefix  (+ requestId)

  ARGV[1] now (epoch ms), or 'redis' for Redis' clock
  ARGV[2] ended-lease record TTL in ms
  ARGV[3] recycle pub/sub channel (the containers that went to Cleaning are published)

  Returns { 0, leaseJson1, ... } or { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"

local k = {
  leaseExpiry = KEYS[1], containers = KEYS[2], counters = KEYS[3],
  leasePrefix = KEYS[4], endedPrefix = KEYS[5], grantPrefix = KEYS[6],
}
local now, endedTtlMs = resolveNow(ARGV[1]), ARGV[2]

return run(function()
  local ids = redis.call('ZRANGEBYSCORE', k.leaseExpiry, '-inf', now)
  if #ids == 0 then return { 0 } end

  -- plan
  local byLeaseId = nil -- containers indexed by the lease they hold, built only if a lease key is missing
  local plan = {}
  for _, leaseId in ipairs(ids) do
    local leaseKey = k.leasePrefix .. leaseId
    local raw = redis.call('GET', leaseKey)
    local lease, containerId = nil, nil
    if raw then
      lease = decode(raw, validLease, leaseKey)
      containerId = lease.containerId
    else
      if not byLeaseId then
        byLeaseId = {}
        local all = redis.call('HGETALL', k.containers)
        for i = 1, #all, 2 do
          local c = decode(all[i + 1], validContainer, k.containers, all[i])
          if c.leaseId then byLeaseId[c.leaseId] = all[i] end
        end
      end
      containerId = byLeaseId[leaseId]
    end
    local container = nil
    if containerId then
      local containerRaw = redis.call('HGET', k.containers, containerId)
      if containerRaw then container = decode(containerRaw, validContainer, k.containers, containerId) end
    end
    plan[#plan + 1] = { id = leaseId, raw = raw or false, lease = lease, containerId = containerId, container = container }
  end

  -- apply
  local out = { 0 }
  local cleaning = {}
  for _, p in ipairs(plan) do
    endLease(k, p.id, p.raw, p.lease, 'expired', now, endedTtlMs)
    if p.container and p.container.leaseId == p.id then
      p.container.leaseId = nil
      setState(p.container, 'Cleaning', now, nil)
      redis.call('HSET', k.containers, p.containerId, cjson.encode(p.container))
      cleaning[#cleaning + 1] = p.containerId
    end
    if p.raw then out[#out + 1] = p.raw end
  end
  redis.call('HINCRBY', k.counters, 'expirations', #plan)
  publishIds(ARGV[3], cleaning)
  return out
end)
