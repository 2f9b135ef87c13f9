--[[
  PoolStore.listLeases (read only): every active lease, read in one consistent step.

  KEYS[1] leaseExpiry  ZSET leaseId -> expiresAt
  KEYS[2] leasePrefix  (+ leaseId)

  Returns { 0, leaseId1, leaseJson1 | false, ... }: false when the lease key's safety-net TTL fired.
]]
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = { 0 }
for _, leaseId in ipairs(ids) do
  out[#out + 1] = leaseId
  out[#out + 1] = redis.call('GET', KEYS[2] .. leaseId)
end
return out
