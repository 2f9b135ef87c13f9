--[[
  HostRegistry.renew: extends the host lease to Redis' now + ttl, if `epoch` still holds it.

  KEYS[1] hosts      HASH hostId -> HostRecord JSON
  KEYS[2] hostLease  STRING epoch (PX host lease TTL)

  ARGV[1] hostId
  ARGV[2] epoch
  ARGV[3] host lease TTL in ms

  Returns { 0, expiresAt } or { ERR.STALE_EPOCH, heldEpoch }
]]
--- @include "common"
--- @include "host"

local k = { hosts = KEYS[1], hostLease = KEYS[2] }
local hostId, epoch, ttlMs = ARGV[1], ARGV[2], tonumber(ARGV[3])

return run(function()
  checkEpoch(k.hostLease, epoch)
  local now = redisNowMs()
  redis.call('PEXPIRE', k.hostLease, ttlMs)
  local host = loadHost(k, hostId)
  if host then
    host.expiresAt = now + ttlMs
    redis.call('HSET', k.hosts, hostId, hostJson(host))
  end
  return { 0, now + ttlMs }
end)
