--[[
  HostRegistry.setDraining: the host's members get no new grants (dispatch skips a draining host).

  KEYS[1] hosts      HASH hostId -> HostRecord JSON
  KEYS[2] hostLease  STRING epoch (PX host lease TTL)

  ARGV[1] hostId
  ARGV[2] epoch

  Returns { 0 } or { ERR.STALE_EPOCH, heldEpoch }
]]
--- @include "common"
--- @include "host"

local k = { hosts = KEYS[1], hostLease = KEYS[2] }
local hostId, epoch = ARGV[1], ARGV[2]

return run(function()
  checkEpoch(k.hostLease, epoch)
  local host = loadHost(k, hostId)
  if host then
    host.draining = true
    redis.call('HSET', k.hosts, hostId, hostJson(host))
  end
  return { 0 }
end)
