--[[
  Shared by every script; the loader inlines it where a script says `--- @include "common"`, after the
  generated `local ERR = {...}` table (negative codes, defined once in redis-errors.ts).

  Errors: a script calls fail(code, detail1, detail2); run() catches it and returns { code, detail1, detail2 }.
  Redis does not roll a script back, so every fail() must come before the script's first write: scripts read
  and validate everything first (plan), then write (apply).

  Numbers: Redis' cjson encodes numbers with 14 significant digits, exact for epoch milliseconds and
  counters. Records written by TypeScript are stored as given; scripts re-encode only what they change.
]]

local function fail(code, detail1, detail2)
  error({ poolErrorCode = code, detail1 = detail1, detail2 = detail2 }, 0)
end

local function run(main)
  local ok, result = pcall(main)
  if ok then return result end
  if type(result) == 'table' and result.poolErrorCode then
    return { result.poolErrorCode, result.detail1 or '', result.detail2 or '' }
  end
  error(result, 0)
end

-- HMGET of any number of fields: unpack() of thousands of arguments would overflow Lua's C stack.
local function hmget(key, fields)
  local out = {}
  for first = 1, #fields, 500 do
    local values = redis.call('HMGET', key, unpack(fields, first, math.min(first + 499, #fields)))
    for _, v in ipairs(values) do out[#out + 1] = v end
  end
  return out
end

local function isNumber(v) return type(v) == 'number' end
local function isString(v) return type(v) == 'string' end
local function isTable(v) return type(v) == 'table' end
local function optional(v, check) return v == nil or check(v) end

-- Checks only the fields the scripts rely on; TypeScript safeParses the full record when it reads it back.
local function validContainer(c)
  return isTable(c) and isString(c.id) and isString(c.state) and isNumber(c.consecutiveFailures)
    and isTable(c.limits) and isNumber(c.limits.memoryMB) and isNumber(c.limits.cpuPercent)
    and optional(c.usage, function(u) return isTable(u) and isNumber(u.memoryMB) end)
    and optional(c.leaseId, isString) and optional(c.tenant, isString)
end

local function validRequest(r)
  return isTable(r) and isString(r.requestId) and isString(r.testRunId) and isString(r.priority)
    and isNumber(r.requestedAt) and isNumber(r.deadline) and isTable(r.requirements)
    and optional(r.requirements.minMemoryMB, isNumber) and optional(r.requirements.maxCpuPercent, isNumber)
    and optional(r.tenant, isString) and optional(r.tenantQuota, isNumber)
end

local function validLease(l)
  return isTable(l) and isString(l.leaseId) and isString(l.containerId) and isString(l.requestId)
    and isNumber(l.token) and isNumber(l.expiresAt)
end

-- Decodes a stored JSON record or fails with CORRUPT_STATE naming where it lives (key, hash field).
local function decode(raw, valid, key, field)
  local ok, value = pcall(cjson.decode, raw)
  if not ok or not valid(value) then fail(ERR.CORRUPT_STATE, key, field or '') end
  return value
end

-- The record of an ended lease, spliced around the stored lease JSON so that the lease is kept byte for byte.
-- `err` (optional) says why a revoked lease ended (the container's error, 'host-lost: ...').
local function endedJson(leaseRaw, reason, now, err)
  local tail = ''
  if err ~= nil and err ~= '' then tail = ',"error":' .. cjson.encode(err) end
  return '{"lease":' .. leaseRaw .. ',"reason":"' .. reason .. '","endedAt":' .. now .. tail .. '}'
end

-- Redis' own clock in epoch ms. Redis 7 replicates a script's effects, not the script, so TIME may come
-- before writes and replicas see the same values.
local function redisNowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A script's `now` argument: the caller's epoch ms, or 'redis' (store option serverTime) for Redis' clock.
-- Returned as an integer string, the form the scripts splice into JSON and pass to ZRANGEBYSCORE.
local function resolveNow(raw)
  if raw == 'redis' then return string.format('%d', redisNowMs()) end
  return raw
end

-- A host agent's write (scoped store) carries its host lease key and epoch; '' means no check. Refuses
-- STALE_EPOCH unless the lease is still held by that epoch (not expired, not taken over).
local function checkEpoch(hostLeaseKey, epoch)
  if hostLeaseKey == nil or hostLeaseKey == '' then return end
  local held = redis.call('GET', hostLeaseKey)
  if held ~= epoch then fail(ERR.STALE_EPOCH, held or '') end
end

-- An agent writes only its own host's members: another host's member is unknown to it (a shared sweep may have
-- handed it an expired lease of another host; that host's agent cleans its own member).
local function checkOwner(container, hostId)
  if hostId == nil or hostId == '' then return end
  if container.hostId ~= hostId then fail(ERR.UNKNOWN_CONTAINER) end
end

-- Space-separated ids on a pub/sub channel (at-most-once: listeners poll too). Nothing when empty.
local function publishIds(channel, ids)
  if channel and channel ~= '' and #ids > 0 then redis.call('PUBLISH', channel, table.concat(ids, ' ')) end
end

-- A JSON array of strings (cjson writes an empty Lua table as an object).
local function stringArrayJson(list)
  local parts = {}
  for i, v in ipairs(list) do parts[i] = cjson.encode(v) end
  return '[' .. table.concat(parts, ',') .. ']'
end

-- Container state change with the store's bookkeeping (same rules as the memory store's setState).
local function setState(container, to, now, err)
  container.state = to
  container.stateChangedAt = tonumber(now)
  if to ~= 'Allocated' then container.tenant = nil end
  if to == 'Available' then container.consecutiveFailures = 0 end
  if err ~= nil then
    container.lastError = err
    container.consecutiveFailures = container.consecutiveFailures + 1
  end
end

-- The active lease a member record names, read for ending it: { id, raw (false when its key's safety-net TTL
-- already fired), lease (decoded) }, or nil when the record names none or its lease is no longer active.
local function heldLeaseOf(k, rec)
  if type(rec) ~= 'table' or type(rec.leaseId) ~= 'string' or not redis.call('ZSCORE', k.leaseExpiry, rec.leaseId) then
    return nil
  end
  local leaseKey = k.leasePrefix .. rec.leaseId
  local leaseRaw = redis.call('GET', leaseKey)
  local lease = nil
  if leaseRaw then lease = decode(leaseRaw, validLease, leaseKey) end
  return { id = rec.leaseId, raw = leaseRaw or false, lease = lease }
end

-- Ends an active lease: ended record (with a TTL), lease key, expiry entry and grant pickup go.
-- `leaseRaw` may be false when the lease key's safety-net TTL already fired; then only the index entry goes.
-- `err` (optional) is kept in the ended record: why a revoked lease ended.
local function endLease(k, leaseId, leaseRaw, lease, reason, now, endedTtlMs, err)
  if leaseRaw then
    redis.call('SET', k.endedPrefix .. leaseId, endedJson(leaseRaw, reason, now, err), 'PX', endedTtlMs)
    redis.call('DEL', k.leasePrefix .. leaseId)
    local grantKey = k.grantPrefix .. lease.requestId
    if redis.call('GET', grantKey) == leaseId then redis.call('DEL', grantKey) end
  end
  redis.call('ZREM', k.leaseExpiry, leaseId)
end
