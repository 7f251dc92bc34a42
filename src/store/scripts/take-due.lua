-- take-due: the payouts whose due time has come, each pushed forward at once, so that concurrent
-- sweeps (several worker processes) do not look at the same payout twice in one round.
-- KEYS: due index. ARGV: now (ms), next due (ms), limit.
-- Returns the payout ids taken.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id) end
return ids
