--[[
  PoolStore.grantsFor (read only): for each request id, its active lease and the request as granted.

  KEYS[1] leaseExpiry          ZSET leaseId -> expiresAt
  KEYS[2] leasePrefix          (+ leaseId)
  KEYS[3] grantPrefix          (+ requestId)
  KEYS[4] grantedRequestPrefix (+ requestId)

  ARGV[1..] request ids

  Returns { 0, requestId1, leaseJson1, requestJson1 | '', ... } for the requests holding an active lease
  ('' when the granted request's record expired: TypeScript rebuilds it from the lease).
]]
local out = { 0 }
for _, requestId in ipairs(ARGV) do
  local leaseId = redis.call('GET', KEYS[3] .. requestId)
  if leaseId and redis.call('ZSCORE', KEYS[1], leaseId) then
    local leaseRaw = redis.call('GET', KEYS[2] .. leaseId)
    if leaseRaw then
      out[#out + 1] = requestId
      out[#out + 1] = leaseRaw
      out[#out + 1] = redis.call('GET', KEYS[4] .. requestId) or ''
    end
  end
end
return out
