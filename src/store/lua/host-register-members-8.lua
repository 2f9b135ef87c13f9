--[[
  HostRegistry.registerMembers: writes the host's member records (state Starting, with hostId and the host's
  address; Redis' time) and adds them to the host record's members. A member id another host (or a pool
  without hosts) registered is refused; a member of this host registered again is replaced, its active lease
  ended as 'revoked' (the container it named no longer exists as leased).

  KEYS[1] hosts          HASH hostId -> HostRecord JSON
  KEYS[2] hostLease      STRING epoch (PX host lease TTL)
  KEYS[3] containers     HASH containerId -> ContainerRecord JSON
  KEYS[4] containerOrder ZSET containerId -> registration index
  KEYS[5] leaseExpiry    ZSET leaseId -> expiresAt
  KEYS[6] leasePrefix    (+ leaseId)
  KEYS[7] endedPrefix    (+ leaseId)
  KEYS[8] grantPrefix    (+ requestId)

  ARGV[1] hostId
  ARGV[2] epoch
  ARGV[3] ended-lease record TTL in ms
  ARGV[4..] pairs: containerId, ContainerRecord JSON (built by TypeScript; state, time, host fields set here)

  Returns { 0, recordJson1, ... } (ARGV order)
       or { ERR.STALE_EPOCH, heldEpoch } | { ERR.MEMBER_TAKEN, containerId, ownerHostId } | { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"
--- @include "host"

local k = {
  hosts = KEYS[1], hostLease = KEYS[2], containers = KEYS[3], containerOrder = KEYS[4], leaseExpiry = KEYS[5],
  leasePrefix = KEYS[6], endedPrefix = KEYS[7], grantPrefix = KEYS[8],
}
local hostId, epoch, endedTtlMs = ARGV[1], ARGV[2], ARGV[3]

return run(function()
  checkEpoch(k.hostLease, epoch)
  local host = loadHost(k, hostId)
  if not host then fail(ERR.CORRUPT_STATE, k.hosts, hostId) end
  local now = redisNowMs()

  -- plan
  local ending = {}
  local records = {}
  for i = 4, #ARGV, 2 do
    local id = ARGV[i]
    local old = redis.call('HGET', k.containers, id)
    if old then
      local ok, rec = pcall(cjson.decode, old)
      if ok and type(rec) == 'table' then
        if rec.hostId ~= hostId then fail(ERR.MEMBER_TAKEN, id, rec.hostId or '') end
        local held = heldLeaseOf(k, rec)
        if held then ending[#ending + 1] = held end
      end
    end
    local record = decode(ARGV[i + 1], validContainer, 'registerMembers argument', id)
    record.state = 'Starting'
    record.stateChangedAt = now
    record.hostId = hostId
    record.address = host.address
    record.leaseId = nil
    records[#records + 1] = { id = id, json = cjson.encode(record) }
  end

  -- apply
  local nowText = string.format('%d', now)
  for _, e in ipairs(ending) do
    endLease(k, e.id, e.raw, e.lease, 'revoked', nowText, endedTtlMs, 'member ' .. hostId .. ' re-registered by its agent')
  end
  local known = {}
  for _, id in ipairs(host.members) do known[id] = true end
  local position = redis.call('ZCARD', k.containerOrder)
  local out = { 0 }
  for _, r in ipairs(records) do
    redis.call('HSET', k.containers, r.id, r.json)
    if redis.call('ZADD', k.containerOrder, 'NX', position, r.id) == 1 then position = position + 1 end
    if not known[r.id] then
      host.members[#host.members + 1] = r.id
      known[r.id] = true
    end
    out[#out + 1] = r.json
  end
  redis.call('HSET', k.hosts, hostId, hostJson(host))
  return out
end)
