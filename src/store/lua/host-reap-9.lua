--[[
  HostRegistry.reapExpired: every host whose lease key is gone (its agent died or was cut off and did not
  renew) is removed as leave() would: leases on its members end as 'revoked' (host-lost), members and host
  record go. Any participant may run it; a second run finds nothing.

  KEYS[1] hosts           HASH hostId -> HostRecord JSON
  KEYS[2] hostLeasePrefix (+ hostId)
  KEYS[3] containers      HASH containerId -> ContainerRecord JSON
  KEYS[4] containerOrder  ZSET containerId -> registration index
  KEYS[5] leaseExpiry     ZSET leaseId -> expiresAt
  KEYS[6] counters        HASH
  KEYS[7] leasePrefix     (+ leaseId)
  KEYS[8] endedPrefix     (+ leaseId)
  KEYS[9] grantPrefix     (+ requestId)

  ARGV[1] ended-lease record TTL in ms
  ARGV[2] revocations pub/sub channel (the revoked lease ids are published), or '' for none

  Returns { 0, '', reapedHostsJson, removedMembersJson, revokedLeaseJson1, ... } or { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"
--- @include "host"

local k = {
  hosts = KEYS[1], hostLeasePrefix = KEYS[2], containers = KEYS[3], containerOrder = KEYS[4], leaseExpiry = KEYS[5],
  counters = KEYS[6], leasePrefix = KEYS[7], endedPrefix = KEYS[8], grantPrefix = KEYS[9],
  revocationsChannel = ARGV[2],
}
local endedTtlMs = ARGV[1]

return run(function()
  local ids = redis.call('HKEYS', k.hosts)
  table.sort(ids)
  local lost = {}
  for _, hostId in ipairs(ids) do
    if redis.call('EXISTS', k.hostLeasePrefix .. hostId) == 0 then
      local host = loadHost(k, hostId)
      local plan = {}
      if host then plan = planMemberRemoval(k, hostId, host.members) end
      lost[#lost + 1] = { id = hostId, plan = plan }
    end
  end
  if #lost == 0 then return removalReply('', {}, {}, {}) end

  -- apply
  local now = string.format('%d', redisNowMs())
  local hosts, revoked, removed = {}, {}, {}
  for _, h in ipairs(lost) do
    local reason = 'host-lost: host ' .. h.id .. ' stopped renewing its lease (agent dead or cut off)'
    removeMembers(k, h.plan, reason, now, endedTtlMs, revoked, removed)
    redis.call('HDEL', k.hosts, h.id)
    hosts[#hosts + 1] = h.id
  end
  return removalReply('', hosts, removed, revoked)
end)
