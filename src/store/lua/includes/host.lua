--[[
  The host registry's shared steps (issue 11: one pool across machines). Needs `common` included first.
  `k` needs hosts, containers, containerOrder, leaseExpiry, counters, leasePrefix, endedPrefix, grantPrefix.
  A host's members are removed, not recycled: their leases end as 'revoked' with a 'host-lost' error, their
  records and order entries go. Plan first (reads only, may fail), then apply.
]]

local function validHost(h)
  return isTable(h) and isString(h.hostId) and isNumber(h.epoch) and isTable(h.members)
end

-- The stored host record, or nil when absent or unreadable (a damaged record is replaced or removed).
local function loadHost(k, hostId)
  local raw = redis.call('HGET', k.hosts, hostId)
  if not raw then return nil end
  local ok, host = pcall(cjson.decode, raw)
  if ok and validHost(host) then return host end
  return nil
end

-- A host record as JSON; members always as an array.
local function hostJson(host)
  local members = host.members
  host.members = nil
  local json = cjson.encode(host)
  host.members = members
  return string.sub(json, 1, -2) .. ',"members":' .. stringArrayJson(members) .. '}'
end

-- Reads what removing `members` of `hostId` will end: each member that still belongs to the host, and its
-- active lease if any. A member another host registered since (same id) is left alone.
local function planMemberRemoval(k, hostId, members)
  local plan = {}
  for _, id in ipairs(members) do
    local raw = redis.call('HGET', k.containers, id)
    if raw then
      local ok, c = pcall(cjson.decode, raw)
      local ours = not ok or type(c) ~= 'table' or c.hostId == nil or c.hostId == hostId
      if ours then
        local p = { id = id }
        local held = ok and heldLeaseOf(k, c)
        if held then
          p.leaseId, p.leaseRaw, p.lease = held.id, held.raw, held.lease
        end
        plan[#plan + 1] = p
      end
    end
  end
  return plan
end

-- Applies a removal plan: leases end as 'revoked' with `reason` (kept as the ended lease's error), member
-- records and order entries go. Appends to `revoked` (lease JSONs) and `removed` (member ids).
-- The revoked lease ids go out on k.revocationsChannel (when the script was given one), so their holders' coordinators
-- tell them at once instead of at their next renewal.
local function removeMembers(k, plan, reason, now, endedTtlMs, revoked, removed)
  local count = 0
  local ids = {}
  for _, p in ipairs(plan) do
    if p.leaseId then
      endLease(k, p.leaseId, p.leaseRaw, p.lease, 'revoked', now, endedTtlMs, reason)
      count = count + 1
      ids[#ids + 1] = p.leaseId
      if p.leaseRaw then revoked[#revoked + 1] = p.leaseRaw end
    end
    redis.call('HDEL', k.containers, p.id)
    redis.call('ZREM', k.containerOrder, p.id)
    removed[#removed + 1] = p.id
  end
  if count > 0 then redis.call('HINCRBY', k.counters, 'revocations', count) end
  publishIds(k.revocationsChannel, ids)
end

-- The reply of claim, leave and reap: { 0, head, hostsJson, removedJson, leaseJson1, ... }.
local function removalReply(head, hosts, removed, revoked)
  local out = { 0, head, stringArrayJson(hosts), stringArrayJson(removed) }
  for _, raw in ipairs(revoked) do out[#out + 1] = raw end
  return out
end
