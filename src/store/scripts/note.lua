-- note: append an audit event that changes no state (a webhook seen, a check made), so the trail
-- shows everything the bank told us, including what moved nothing.
-- KEYS: payout, audit. ARGV: now (ISO), why.
-- Returns the current state, or '' when there is no such payout.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return '' end
redis.call('RPUSH', KEYS[2], cjson.encode({ at = ARGV[1], state = state, why = ARGV[2] }))
return state
