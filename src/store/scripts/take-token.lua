-- take-token: a sliding one-second window shared by every worker, on Redis time. A call may go
-- only while fewer than `rate` calls went in the last second, so the bank never sees more than
-- `rate` in any second (a token bucket lets a full bucket and a second's refill through at once).
-- KEYS: window (sorted set: call id → when it went, in µs). ARGV: rate per second, call id.
-- Returns 0 when the call may go (it is recorded), else the ms until the oldest call in the window
-- leaves it.
local rate = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - 1000000))
if redis.call('ZCARD', KEYS[1]) < rate then
  redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], 2000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, math.ceil((tonumber(oldest[2]) + 1000000 - now) / 1000))
