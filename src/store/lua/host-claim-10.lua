--[[
  HostRegistry.claim: takes the host lease with the next epoch (refused while another agent holds it), then
  removes what an earlier epoch of this host id left (its members; their leases end 'revoked', host-lost).
  Times are Redis' own.

  KEYS[1] hosts          HASH hostId -> HostRecord JSON
  KEYS[2] hostLease      STRING epoch (PX host lease TTL)
  KEYS[3] hostEpoch      STRING counter
  KEYS[4] containers     HASH containerId -> ContainerRecord JSON
  KEYS[5] containerOrder ZSET containerId -> registration index
  KEYS[6] leaseExpiry    ZSET leaseId -> expiresAt
  KEYS[7] counters       HASH
  KEYS[8] leasePrefix    (+ leaseId)
  KEYS[9] endedPrefix    (+ leaseId)
  KEYS[10] grantPrefix   (+ requestId)

  ARGV[1] hostId
  ARGV[2] address
  ARGV[3] controlUrl
  ARGV[4] runtime
  ARGV[5] host lease TTL in ms
  ARGV[6] ended-lease record TTL in ms
  ARGV[7] revocations pub/sub channel (the revoked lease ids are published), or '' for none

  Returns { 0, hostRecordJson, reapedHostsJson, removedMembersJson, revokedLeaseJson1, ... }
       or { ERR.HOST_TAKEN, heldEpoch, remainingMs } | { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"
--- @include "host"

local k = {
  hosts = KEYS[1], hostLease = KEYS[2], hostEpoch = KEYS[3], containers = KEYS[4], containerOrder = KEYS[5],
  leaseExpiry = KEYS[6], counters = KEYS[7], leasePrefix = KEYS[8], endedPrefix = KEYS[9], grantPrefix = KEYS[10],
  revocationsChannel = ARGV[7],
}
local hostId, ttlMs, endedTtlMs = ARGV[1], tonumber(ARGV[5]), ARGV[6]

return run(function()
  local held = redis.call('GET', k.hostLease)
  if held then fail(ERR.HOST_TAKEN, held, tostring(redis.call('PTTL', k.hostLease))) end
  local now = redisNowMs()
  local old = loadHost(k, hostId)
  local plan = {}
  if old then plan = planMemberRemoval(k, hostId, old.members) end

  -- apply
  local epoch = redis.call('INCR', k.hostEpoch)
  local revoked, removed, reaped = {}, {}, {}
  if old then
    local reason = 'host-lost: ' .. hostId .. ' was taken over by epoch ' .. string.format('%d', epoch)
    removeMembers(k, plan, reason, string.format('%d', now), endedTtlMs, revoked, removed)
    reaped[1] = hostId
  end
  redis.call('SET', k.hostLease, string.format('%d', epoch), 'PX', ttlMs)
  local record = hostJson({
    hostId = hostId, epoch = epoch, address = ARGV[2], controlUrl = ARGV[3], runtime = ARGV[4], members = {},
    claimedAt = now, expiresAt = now + ttlMs, draining = false,
  })
  redis.call('HSET', k.hosts, hostId, record)
  return removalReply(record, reaped, removed, revoked)
end)
