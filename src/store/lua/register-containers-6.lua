--[[
  PoolStore.registerContainers: writes each container record (state Starting), keeping the registration
  position of ids seen before. A replaced container's active lease is ended as 'revoked' (the container it
  named no longer exists as leased). Counters and history are untouched.

  KEYS[1] containers     HASH containerId -> ContainerRecord JSON
  KEYS[2] containerOrder ZSET containerId -> registration index
  KEYS[3] leaseExpiry    ZSET leaseId -> expiresAt
  KEYS[4] leasePrefix    (+ leaseId)
  KEYS[5] endedPrefix    (+ leaseId)
  KEYS[6] grantPrefix    (+ requestId)

  ARGV[1] now (epoch ms), or 'redis' for Redis' clock (then the records' stateChangedAt)
  ARGV[2] ended-lease record TTL in ms
  ARGV[3..] pairs: containerId, ContainerRecord JSON (built by TypeScript)

  Returns { 0, recordJson1, ... } (as written, in ARGV order) or { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"

local k = {
  containers = KEYS[1], containerOrder = KEYS[2], leaseExpiry = KEYS[3],
  leasePrefix = KEYS[4], endedPrefix = KEYS[5], grantPrefix = KEYS[6],
}
local now, endedTtlMs = resolveNow(ARGV[1]), ARGV[2]

return run(function()
  -- plan: find leases held by containers about to be replaced. A corrupt old record is simply replaced
  -- (registration repairs it); only its lease, if readable, is ended.
  local ending = {}
  for i = 3, #ARGV, 2 do
    local old = redis.call('HGET', k.containers, ARGV[i])
    if old then
      local ok, rec = pcall(cjson.decode, old)
      local held = ok and heldLeaseOf(k, rec)
      if held then ending[#ending + 1] = held end
    end
  end

  -- apply
  for _, e in ipairs(ending) do endLease(k, e.id, e.raw, e.lease, 'revoked', now, endedTtlMs) end
  local position = redis.call('ZCARD', k.containerOrder)
  local out = { 0 }
  for i = 3, #ARGV, 2 do
    local recordJson = ARGV[i + 1]
    if ARGV[1] == 'redis' then
      -- Redis' clock: the state time is Redis' too (TypeScript wrote the caller's).
      local record = cjson.decode(recordJson)
      record.stateChangedAt = tonumber(now)
      recordJson = cjson.encode(record)
    end
    redis.call('HSET', k.containers, ARGV[i], recordJson)
    if redis.call('ZADD', k.containerOrder, 'NX', position, ARGV[i]) == 1 then position = position + 1 end
    out[#out + 1] = recordJson
  end
  return out
end)
