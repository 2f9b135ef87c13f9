--[[
  PoolStore.recordUsage: stores the last measured usage of a container (atomic read-modify-write).

  KEYS[1] containers  HASH containerId -> ContainerRecord JSON

  ARGV[1] containerId
  ARGV[2] ResourceUsage JSON
  ARGV[3] host lease key of the writing agent, or '' (no epoch check)
  ARGV[4] the agent's epoch
  ARGV[5] the agent's host id, or ''

  Returns { 0 } or { ERR.UNKNOWN_CONTAINER } | { ERR.STALE_EPOCH, heldEpoch } | { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"

local containersKey = KEYS[1]
local id, usageJson = ARGV[1], ARGV[2]

return run(function()
  checkEpoch(ARGV[3], ARGV[4])
  local raw = redis.call('HGET', containersKey, id)
  if not raw then fail(ERR.UNKNOWN_CONTAINER) end
  local container = decode(raw, validContainer, containersKey, id)
  checkOwner(container, ARGV[5])
  container.usage = cjson.decode(usageJson)
  redis.call('HSET', containersKey, id, cjson.encode(container))
  return { 0 }
end)
