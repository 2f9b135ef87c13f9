--[[
  The dispatch pass shared by enqueue and dispatch. Needs `common` included first.
  `k` is the script's key table: containers, containerOrder, queue, requests, leaseExpiry, tokenSeq, counters,
  leasePrefix, grantPrefix, grantedRequestPrefix, hosts, hostLeasePrefix, and grantsChannel (a channel name).
]]

-- Whether a shared pool's host still serves grants: its host lease is held and it is not draining. Members
-- without a hostId (one machine) are not asked. Cached per pass: one EXISTS + HGET per host, not per member.
local function hostServes(k, hostId, cache)
  local serves = cache[hostId]
  if serves == nil then
    serves = false
    if redis.call('EXISTS', k.hostLeasePrefix .. hostId) == 1 then
      local raw = redis.call('HGET', k.hosts, hostId)
      if raw then
        local ok, host = pcall(cjson.decode, raw)
        serves = ok and type(host) == 'table' and host.draining ~= true
      end
    end
    cache[hostId] = serves
  end
  return serves
end

-- Every registered container in registration order, decoded and checked (CORRUPT_STATE before any write).
local function loadContainers(k)
  local order = redis.call('ZRANGE', k.containerOrder, 0, -1)
  local list = {}
  if #order == 0 then return list end
  local raws = hmget(k.containers, order)
  for i, id in ipairs(order) do
    if raws[i] then list[#list + 1] = { id = id, rec = decode(raws[i], validContainer, k.containers, id) } end
  end
  return list
end

-- Queue entries in service order; `extra` (a request not stored yet) is merged at its score. Requests are
-- decoded lazily by the planner: a long queue behind a full pool costs one ZRANGE and one HMGET, no decoding.
local function loadQueue(k, extra)
  local flat = redis.call('ZRANGE', k.queue, 0, -1, 'WITHSCORES')
  local entries = {}
  local ids = {}
  for i = 1, #flat, 2 do ids[#ids + 1] = flat[i] end
  local raws = {}
  if #ids > 0 then raws = hmget(k.requests, ids) end
  for i, id in ipairs(ids) do
    local score = tonumber(flat[i * 2])
    if extra and not extra.placed and extra.score < score then
      entries[#entries + 1] = extra
      extra.placed = true
    end
    if not raws[i] then fail(ERR.CORRUPT_STATE, k.requests, id) end
    entries[#entries + 1] = { id = id, raw = raws[i], stored = true, score = score }
  end
  if extra and not extra.placed then entries[#entries + 1] = extra end
  return entries
end

local function limitsSatisfy(c, req)
  return c.limits.memoryMB >= (req.minMemoryMB or 0) and c.limits.cpuPercent >= (req.maxCpuPercent or 0)
end

-- Limits, and memory left after the last measured use (lease-rules.ts containerSatisfies).
local function satisfiesNow(c, req)
  if not limitsSatisfy(c, req) then return false end
  local used = (c.usage and c.usage.memoryMB) or 0
  return c.limits.memoryMB - used >= (req.minMemoryMB or 0)
end

-- The TypeScript twin is planDispatch in src/store/dispatch-plan.ts; both must choose the same. Ranks in
-- order, a rank done before the next (priority always wins). Inside a rank, fair share: the next grant goes to
-- the tenant ('' = none) with the fewest active leases, counting this pass's grants, ties to the earliest seq;
-- a request past its deadline, whose tenant holds its tenantQuota, or that no free container (registration
-- order) satisfies is skipped. One tenant (or none) gives plain seq order. A tenant's active leases are
-- counted from the Allocated containers the pass has decoded anyway (each carries its lease's tenant):
-- no lease is read and there is no counter to drift. Only the ranks the pass reaches are decoded.
-- Reads only: returns the planned { container, entry } pairs.
local function fairestServable(waiting, free, active)
  local best, bestSlot, bestHeld = nil, nil, nil
  for index, entry in ipairs(waiting) do
    local req = entry.req
    local held = active[req.tenant or ''] or 0
    if (req.tenantQuota == nil or held < req.tenantQuota) and (best == nil or held < bestHeld) then
      for slot, c in ipairs(free) do
        if satisfiesNow(c.rec, req.requirements) then
          best, bestSlot, bestHeld = index, slot, held
          break
        end
      end
    end
  end
  return best, bestSlot
end

local function planDispatch(k, containers, now, extra)
  local free = {}
  local active = {}
  local hostCache = {}
  for _, c in ipairs(containers) do
    if c.rec.state == 'Available' and (type(c.rec.hostId) ~= 'string' or hostServes(k, c.rec.hostId, hostCache)) then
      free[#free + 1] = c
    elseif c.rec.state == 'Allocated' then
      local tenant = c.rec.tenant or ''
      active[tenant] = (active[tenant] or 0) + 1
    end
  end
  local grants = {}
  if #free == 0 then return grants end
  local nowNumber = tonumber(now)
  local queue = loadQueue(k, extra)
  local start = 1
  while start <= #queue and #free > 0 do
    local rank = math.floor(queue[start].score / 4294967296)
    local waiting = {}
    local stop = start
    while stop <= #queue and math.floor(queue[stop].score / 4294967296) == rank do
      local entry = queue[stop]
      if not entry.req then entry.req = decode(entry.raw, validRequest, k.requests, entry.id) end
      if entry.req.deadline > nowNumber then waiting[#waiting + 1] = entry end
      stop = stop + 1
    end
    while #free > 0 do
      local index, slot = fairestServable(waiting, free, active)
      if index == nil then break end
      local entry = table.remove(waiting, index)
      local tenant = entry.req.tenant or ''
      active[tenant] = (active[tenant] or 0) + 1
      grants[#grants + 1] = { container = table.remove(free, slot), entry = entry }
    end
    start = stop
  end
  return grants
end

-- Writes the planned grants: fencing token, lease (+ safety-net TTL), expiry index, grant pickup, container
-- Allocated, request out of the queue (kept as granted for grantsFor), allocations counter; the granted
-- request ids are published on the grants channel. Returns { requestJson, leaseJson, ... }.
local function applyGrants(k, grants, now, ttlMs, leaseKeyTtlMs, nonce)
  local out = {}
  if #grants == 0 then return out end
  local token = tonumber(redis.call('GET', k.tokenSeq) or '0')
  local nowNumber = tonumber(now)
  local ttlNumber = tonumber(ttlMs)
  local granted = {}
  for _, g in ipairs(grants) do
    token = token + 1
    local req = g.entry.req
    local leaseId = 'lease-' .. string.format('%d', token) .. '-' .. nonce
    local c = g.container.rec
    -- A host agent's member: where it is goes with the lease (the shard then reads no record to reach it).
    local member = nil
    if type(c.hostId) == 'string' and type(c.address) == 'string' then
      member = { hostId = c.hostId, name = c.name, address = c.address, port = c.port }
    end
    local leaseRaw = cjson.encode({
      leaseId = leaseId,
      containerId = g.container.id,
      token = token,
      requestId = req.requestId,
      testRunId = req.testRunId,
      priority = req.priority,
      requestedAt = req.requestedAt,
      grantedAt = nowNumber,
      expiresAt = nowNumber + ttlNumber,
      ttlMs = ttlNumber,
      tenant = req.tenant,
      seq = req.seq,
      queuedAt = req.queuedAt,
      member = member,
    })
    redis.call('SET', k.leasePrefix .. leaseId, leaseRaw, 'PX', leaseKeyTtlMs)
    redis.call('ZADD', k.leaseExpiry, nowNumber + ttlNumber, leaseId)
    redis.call('SET', k.grantPrefix .. req.requestId, leaseId, 'PX', leaseKeyTtlMs)
    redis.call('SET', k.grantedRequestPrefix .. req.requestId, g.entry.raw, 'PX', leaseKeyTtlMs)
    granted[#granted + 1] = req.requestId
    c.leaseId = leaseId
    setState(c, 'Allocated', now, nil)
    c.tenant = req.tenant
    redis.call('HSET', k.containers, g.container.id, cjson.encode(c))
    if g.entry.stored then
      redis.call('ZREM', k.queue, req.requestId)
      redis.call('HDEL', k.requests, req.requestId)
    end
    out[#out + 1] = g.entry.raw
    out[#out + 1] = leaseRaw
  end
  redis.call('SET', k.tokenSeq, string.format('%d', token))
  redis.call('HINCRBY', k.counters, 'allocations', #grants)
  publishIds(k.grantsChannel, granted)
  return out
end
