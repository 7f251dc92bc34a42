-- take-token: BANK131_MAX_RPS shared by every worker, on Redis time. Each call is given its own
-- slot, one interval (1 s / rate) after the previous call's, and waits for it: calls go out
-- evenly spaced, never more than `rate` in any second, the first second included. A token bucket
-- let a full bucket and a second's refill through at once; a sliding window let the whole second's
-- calls through in one burst, which a busy process's delays then pushed into the next second.
-- Waiting callers hold distinct slots, so they do not wake together and race for one.
-- KEYS: the next free slot (µs since epoch). ARGV: interval between calls (µs).
-- Returns the ms to wait before the call may go (0: at once).
local interval = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
-- Kept at least until the furthest booked slot has passed: expiring earlier would let new
-- calls go at once on top of the slots still booked.
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', math.max(60000, math.ceil((slot + interval - now) / 1000) + 1000))
return math.ceil((slot - now) / 1000)
