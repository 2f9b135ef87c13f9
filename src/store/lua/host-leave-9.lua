--[[
  HostRegistry.leave: the agent leaves. Leases still held on its members end as 'revoked' (with `reason`),
  the members and the host record go, the host lease is deleted. The epoch counter stays (it only grows).

  KEYS[1] hosts          HASH hostId -> HostRecord JSON
  KEYS[2] hostLease      STRING epoch (PX host lease TTL)
  KEYS[3] containers     HASH containerId -> ContainerRecord JSON
  KEYS[4] containerOrder ZSET containerId -> registration index
  KEYS[5] leaseExpiry    ZSET leaseId -> expiresAt
  KEYS[6] counters       HASH
  KEYS[7] leasePrefix    (+ leaseId)
  KEYS[8] endedPrefix    (+ leaseId)
  KEYS[9] grantPrefix    (+ requestId)

  ARGV[1] hostId
  ARGV[2] epoch
  ARGV[3] reason (kept as the ended leases' error)
  ARGV[4] ended-lease record TTL in ms
  ARGV[5] revocations pub/sub channel (the revoked lease ids are published), or '' for none

  Returns { 0, '', hostsJson, removedMembersJson, revokedLeaseJson1, ... }
       or { ERR.STALE_EPOCH, heldEpoch } | { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"
--- @include "host"

local k = {
  hosts = KEYS[1], hostLease = KEYS[2], containers = KEYS[3], containerOrder = KEYS[4], leaseExpiry = KEYS[5],
  counters = KEYS[6], leasePrefix = KEYS[7], endedPrefix = KEYS[8], grantPrefix = KEYS[9],
  revocationsChannel = ARGV[5],
}
local hostId, epoch, reason, endedTtlMs = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

return run(function()
  checkEpoch(k.hostLease, epoch)
  local host = loadHost(k, hostId)
  local plan = {}
  if host then plan = planMemberRemoval(k, hostId, host.members) end

  -- apply
  local revoked, removed = {}, {}
  removeMembers(k, plan, reason, string.format('%d', redisNowMs()), endedTtlMs, revoked, removed)
  redis.call('HDEL', k.hosts, hostId)
  redis.call('DEL', k.hostLease)
  return removalReply('', { hostId }, removed, revoked)
end)
