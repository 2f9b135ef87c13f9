--[[
  Token-checked lookup of an active lease, shared by renew and release. Needs `common` included first.
  `k` needs leaseExpiry, leasePrefix, endedPrefix. Order of refusals as in the memory store: not active
  (ended: how it ended; else unknown), then the token, then expiry not yet reclaimed.
]]
local function activeLease(k, leaseId, token, now)
  local leaseKey = k.leasePrefix .. leaseId
  local raw = false
  if redis.call('ZSCORE', k.leaseExpiry, leaseId) then raw = redis.call('GET', leaseKey) end
  if not raw then
    local ended = redis.call('GET', k.endedPrefix .. leaseId)
    if ended then fail(ERR.LEASE_ENDED, ended) end
    fail(ERR.UNKNOWN_LEASE)
  end
  local lease = decode(raw, validLease, leaseKey)
  if lease.token ~= tonumber(token) then fail(ERR.STALE_TOKEN, lease.containerId) end
  if lease.expiresAt <= tonumber(now) then fail(ERR.LEASE_EXPIRED, raw) end
  return raw, lease
end
