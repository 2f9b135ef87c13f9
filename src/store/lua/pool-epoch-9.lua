--[[
  Redis failover (issue 11): called by every store on each (re)connection with the master's identity (INFO
  server run_id). A master this pool has not run on before starts a new pool epoch: replication is
  asynchronous, so the new master may have lost the last writes — the token counter among them — and a holder
  of a lost grant could carry a token that new grants would reuse or undercut. The bump therefore
  - raises the token counter to at least epoch * 2^32, so every token granted from now on exceeds every token
    granted before (whatever the counter lost); epochs stay <= maxEpoch so tokens stay below 10^14, which
    cjson (14 significant digits) and JavaScript numbers hold exactly;
  - ends every active lease as 'revoked' (they were granted under an older master); their Allocated
    containers go to Cleaning and are published on the recycle channel, so their agents recycle them and
    fence the members' guards at the raised next token, cutting stale holders off at the container.
  A pool seen for the first time (no stored master, epoch 0, and the caller saw no other master before) only
  records the master.

  KEYS[1] poolEpoch        STRING counter: the pool epoch
  KEYS[2] poolEpochMaster  STRING run id of the master the epoch belongs to
  KEYS[3] tokenSeq         STRING counter: the fencing token
  KEYS[4] leaseExpiry      ZSET leaseId -> expiresAt
  KEYS[5] containers       HASH containerId -> ContainerRecord JSON
  KEYS[6] counters         HASH
  KEYS[7] leasePrefix      (+ leaseId)
  KEYS[8] endedPrefix      (+ leaseId)
  KEYS[9] grantPrefix      (+ requestId)

  ARGV[1] the master's run id
  ARGV[2] now (epoch ms), or 'redis' for Redis' clock
  ARGV[3] ended-lease record TTL in ms
  ARGV[4] recycle pub/sub channel
  ARGV[5] the highest epoch the caller has seen (0 if none): an epoch the new master lost is not reused
  ARGV[6] the highest epoch allowed
  ARGV[7] run id of the master the caller saw last, or '' (a new master that lost even the pool's keys is a change)
  ARGV[8] '1' when this master was promoted from a replica (INFO replication master_replid2 is set), else '0'
  ARGV[9] revocations pub/sub channel (the revoked lease ids are published, for their holders), or '' for none

  Returns { 0, epoch, 'same' }                     nothing changed
       or { 0, epoch, 'new' }                      a new pool: the master recorded, epoch unchanged
       or { 0, epoch, 'restarted' }                the same master restarted with the pool's keys (not promoted,
                                                   no epoch lost): its new run id recorded, nothing revoked
       or { 0, epoch, 'bumped', previousMaster, leaseJson... }  the leases it revoked
       or { 0, epoch, 'exhausted' }                the next epoch would exceed ARGV[6]: nothing written
       or { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"

local k = {
  poolEpoch = KEYS[1], master = KEYS[2], tokenSeq = KEYS[3], leaseExpiry = KEYS[4], containers = KEYS[5],
  counters = KEYS[6], leasePrefix = KEYS[7], endedPrefix = KEYS[8], grantPrefix = KEYS[9],
}
local runId, now, endedTtlMs, channel = ARGV[1], resolveNow(ARGV[2]), ARGV[3], ARGV[4]
local known, maxEpoch, lastSeen, promoted = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8] == '1'

return run(function()
  local stored = redis.call('GET', k.master)
  local epoch = tonumber(redis.call('GET', k.poolEpoch) or '0')
  if stored == runId and epoch >= known then return { 0, epoch, 'same' } end
  if not stored and epoch == 0 and known == 0 and (lastSeen == '' or lastSeen == runId) then
    redis.call('SET', k.master, runId)
    return { 0, epoch, 'new' }
  end
  -- A master restarted from its own disk (AOF/RDB: a Redis restart, not a failover) gets a new run id but was never
  -- a replica and kept the pool's keys: its leases carry on, as they did before pools had epochs.
  if stored and not promoted and epoch >= known then
    redis.call('SET', k.master, runId)
    return { 0, epoch, 'restarted' }
  end
  local newEpoch = math.max(epoch, known) + 1
  if newEpoch > maxEpoch then return { 0, epoch, 'exhausted' } end

  -- plan: every active lease and the container it holds, validated before the first write
  local ids = redis.call('ZRANGE', k.leaseExpiry, 0, -1)
  local plans = {}
  for i, leaseId in ipairs(ids) do
    local leaseKey = k.leasePrefix .. leaseId
    local raw = redis.call('GET', leaseKey)
    local plan = { id = leaseId, raw = raw }
    if raw then
      plan.lease = decode(raw, validLease, leaseKey)
      local containerRaw = redis.call('HGET', k.containers, plan.lease.containerId)
      if containerRaw then plan.container = decode(containerRaw, validContainer, k.containers, plan.lease.containerId) end
    end
    plans[i] = plan
  end

  -- apply
  redis.call('SET', k.poolEpoch, string.format('%d', newEpoch))
  redis.call('SET', k.master, runId)
  local floor = newEpoch * 4294967296
  if tonumber(redis.call('GET', k.tokenSeq) or '0') < floor then redis.call('SET', k.tokenSeq, string.format('%d', floor)) end
  local message = 'failover: Redis master changed (pool epoch ' .. newEpoch .. '); leases granted before it end'
  local out = { 0, newEpoch, 'bumped', stored or '' }
  local recycled, revokedIds = {}, {}
  for _, plan in ipairs(plans) do
    endLease(k, plan.id, plan.raw, plan.lease, 'revoked', now, endedTtlMs, message)
    if plan.raw then
      redis.call('HINCRBY', k.counters, 'revocations', 1)
      out[#out + 1] = plan.raw
      revokedIds[#revokedIds + 1] = plan.id
    end
    local c = plan.container
    if c and c.state == 'Allocated' and c.leaseId == plan.id then
      c.leaseId = nil
      setState(c, 'Cleaning', now, nil)
      redis.call('HSET', k.containers, c.id, cjson.encode(c))
      recycled[#recycled + 1] = c.id
    end
  end
  publishIds(channel, recycled)
  publishIds(ARGV[9], revokedIds)
  return out
end)
