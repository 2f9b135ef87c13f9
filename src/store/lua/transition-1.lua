--[[
  PoolStore.transition: compare-and-set of a container's state. Entering or leaving Allocated is refused
  (only leases do that). One key, but read-check-write must be atomic across coordinators.

  KEYS[1] containers  HASH containerId -> ContainerRecord JSON

  ARGV[1] containerId
  ARGV[2] from state
  ARGV[3] to state
  ARGV[4] now (epoch ms), or 'redis' for Redis' clock
  ARGV[5] '1' when an error message is given, '0' otherwise
  ARGV[6] error message (kept as lastError; counts one more consecutive failure)
  ARGV[7] host lease key of the writing agent, or '' (no epoch check)
  ARGV[8] the agent's epoch
  ARGV[9] the agent's host id, or '' (an agent may move only its own host's members)

  Returns { 0, containerJson }
       or { ERR.UNKNOWN_CONTAINER } | { ERR.ALLOCATED_BY_LEASE_ONLY, actualState } |
          { ERR.INVALID_TRANSITION, actualState } | { ERR.STALE_EPOCH, heldEpoch } | { ERR.CORRUPT_STATE, key, field }
]]
--- @include "common"

local containersKey = KEYS[1]
local id, from, to, now = ARGV[1], ARGV[2], ARGV[3], resolveNow(ARGV[4])
local err = nil
if ARGV[5] == '1' then err = ARGV[6] end

return run(function()
  checkEpoch(ARGV[7], ARGV[8])
  local raw = redis.call('HGET', containersKey, id)
  if not raw then fail(ERR.UNKNOWN_CONTAINER) end
  local container = decode(raw, validContainer, containersKey, id)
  checkOwner(container, ARGV[9])
  if from == 'Allocated' or to == 'Allocated' then fail(ERR.ALLOCATED_BY_LEASE_ONLY, container.state) end
  if container.state ~= from then fail(ERR.INVALID_TRANSITION, container.state) end
  setState(container, to, now, err)
  local updated = cjson.encode(container)
  redis.call('HSET', containersKey, id, updated)
  return { 0, updated }
end)
