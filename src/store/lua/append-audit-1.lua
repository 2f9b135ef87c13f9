--[[
  PoolStore.appendAudit: appends events and trims the log to its cap, oldest first.

  KEYS[1] audit LIST

  ARGV[1] cap (events kept)
  ARGV[2..] AuditEvent JSON, one per event

  Returns { 0 }
]]
-- One RPUSH per event rather than unpack(ARGV): unpack of thousands of arguments overflows Lua's C stack.
for i = 2, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
return { 0 }
