--[[
  PoolStore.appendExecution: one duration onto the test's history and the overall history, each capped.

  KEYS[1] the test's history LIST
  KEYS[2] overall history LIST

  ARGV[1] duration in ms (as written by TypeScript, kept exact)
  ARGV[2] cap (entries kept per list)

  Returns { 0 }
]]
local cap = tonumber(ARGV[2])
for i = 1, 2 do
  redis.call('RPUSH', KEYS[i], ARGV[1])
  redis.call('LTRIM', KEYS[i], -cap, -1)
end
return { 0 }
