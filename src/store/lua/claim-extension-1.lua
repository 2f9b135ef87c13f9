--[[
  PoolStore.claimExtension: counts one more extension for a test run unless `max` were already granted.
  The key expires (a run's worth) so finished runs leave nothing behind.

  KEYS[1] the run's extension counter

  ARGV[1] max
  ARGV[2] TTL of the counter in ms

  Returns { 0, newCount } | { 0, -1 } when the limit was reached (an answer, not an error)
       or { ERR.CORRUPT_STATE, key, '' }
]]
--- @include "common"

return run(function()
  local count = tonumber(redis.call('GET', KEYS[1]) or '0')
  if not count then fail(ERR.CORRUPT_STATE, KEYS[1]) end
  if count >= tonumber(ARGV[1]) then return { 0, -1 } end
  redis.call('SET', KEYS[1], string.format('%d', count + 1), 'PX', ARGV[2])
  return { 0, count + 1 }
end)
