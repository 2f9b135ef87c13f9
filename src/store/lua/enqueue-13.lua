--[[
  PoolStore.enqueue: refuse (duplicate, concurrency, unsatisfiable), queue, then one dispatch pass — one
  atomic step and one round trip. A request granted by this very pass is never written to the queue.

  KEYS[1] queue          ZSET requestId -> rank * 2^32 + seq
  KEYS[2] requests       HASH requestId -> QueuedRequest JSON
  KEYS[3] containers     HASH containerId -> ContainerRecord JSON
  KEYS[4] containerOrder ZSET containerId -> registration index
  KEYS[5] leaseExpiry    ZSET leaseId -> expiresAt
  KEYS[6] requestSeq     STRING counter
  KEYS[7] tokenSeq       STRING counter
  KEYS[8] counters       HASH
  KEYS[9] leasePrefix    (+ leaseId)
  KEYS[10] grantPrefix   (+ requestId)
  KEYS[11] grantedRequestPrefix (+ requestId)
  KEYS[12] hosts         HASH hostId -> HostRecord JSON (members of a draining or lost host get no grant)
  KEYS[13] hostLeasePrefix (+ hostId)

  ARGV[1] requestId
  ARGV[2] the request as JSON, without seq (written by TypeScript, stored as is plus seq and queuedAt = now)
  ARGV[3] priority rank (0 = critical)
  ARGV[4] now (epoch ms), or 'redis' for Redis' clock: then requestedAt and deadline are moved by
          (Redis now - ARGV[10]) so a caller whose clock is off still gets its full wait
  ARGV[5] lease ttlMs
  ARGV[6] maxConcurrent
  ARGV[7] lease key TTL in ms (ttl + grace: a safety net, the expiry index decides)
  ARGV[8] lease id nonce
  ARGV[9] grants pub/sub channel
  ARGV[10] the caller's now (epoch ms)

  Returns { 0, queuedJson, requestJson1, leaseJson1, ... }
       or { ERR.DUPLICATE_REQUEST } | { ERR.CONCURRENCY_LIMIT, active } |
          { ERR.UNSATISFIABLE_REQUEST, largestMemoryMB, largestCpuPercent } | { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"
--- @include "dispatch"

local k = {
  queue = KEYS[1], requests = KEYS[2], containers = KEYS[3], containerOrder = KEYS[4], leaseExpiry = KEYS[5],
  requestSeq = KEYS[6], tokenSeq = KEYS[7], counters = KEYS[8], leasePrefix = KEYS[9], grantPrefix = KEYS[10],
  grantedRequestPrefix = KEYS[11], hosts = KEYS[12], hostLeasePrefix = KEYS[13], grantsChannel = ARGV[9],
}
local requestId, requestJson, rank, now, ttlMs = ARGV[1], ARGV[2], tonumber(ARGV[3]), resolveNow(ARGV[4]), ARGV[5]
local maxConcurrent, leaseKeyTtlMs, nonce = tonumber(ARGV[6]), ARGV[7], ARGV[8]
local rebaseMs = 0
if ARGV[4] == 'redis' then rebaseMs = tonumber(now) - tonumber(ARGV[10]) end

return run(function()
  if redis.call('HEXISTS', k.requests, requestId) == 1 then fail(ERR.DUPLICATE_REQUEST) end
  local grantedLease = redis.call('GET', k.grantPrefix .. requestId)
  if grantedLease and redis.call('ZSCORE', k.leaseExpiry, grantedLease) then fail(ERR.DUPLICATE_REQUEST) end

  local active = redis.call('ZCARD', k.queue) + redis.call('ZCARD', k.leaseExpiry)
  if active >= maxConcurrent then fail(ERR.CONCURRENCY_LIMIT, active) end

  local containers = loadContainers(k)
  local request = decode(requestJson, validRequest, 'enqueue argument', requestId)
  if rebaseMs ~= 0 then
    -- The caller's times on Redis' clock: the request keeps its full wait whatever the caller's clock says.
    request.requestedAt = request.requestedAt + rebaseMs
    request.deadline = request.deadline + rebaseMs
    requestJson = cjson.encode(request)
  end
  local satisfiable = false
  local largestMemory, largestCpu = 0, 0
  for _, c in ipairs(containers) do
    if limitsSatisfy(c.rec, request.requirements) then satisfiable = true end
    largestMemory = math.max(largestMemory, c.rec.limits.memoryMB)
    largestCpu = math.max(largestCpu, c.rec.limits.cpuPercent)
  end
  if not satisfiable then fail(ERR.UNSATISFIABLE_REQUEST, tostring(largestMemory), tostring(largestCpu)) end

  local seq = tonumber(redis.call('GET', k.requestSeq) or '0') + 1
  -- queuedAt: when this try joined the queue on the store's clock (kept on its lease; who waited at a grant).
  local queuedJson = string.sub(requestJson, 1, -2) .. ',"seq":' .. string.format('%d', seq) .. ',"queuedAt":' .. now .. '}'
  request.seq = seq
  request.queuedAt = tonumber(now)
  local score = rank * 4294967296 + (seq % 4294967296)
  local entry = { id = requestId, raw = queuedJson, req = request, score = score, stored = false }

  local grants = planDispatch(k, containers, now, entry)

  -- apply
  redis.call('SET', k.requestSeq, string.format('%d', seq))
  local granted = false
  for _, g in ipairs(grants) do
    if g.entry == entry then granted = true end
  end
  if not granted then
    redis.call('ZADD', k.queue, score, requestId)
    redis.call('HSET', k.requests, requestId, queuedJson)
  end
  local out = applyGrants(k, grants, now, ttlMs, leaseKeyTtlMs, nonce)
  table.insert(out, 1, queuedJson)
  table.insert(out, 1, 0)
  return out
end)
