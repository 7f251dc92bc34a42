-- note-by-session: a webhook's audit entry and the payout it concerns, in one round trip: the
-- session index names the payout, the note is appended (as note.lua does), and the record comes
-- back so the webhook job need not read it again.
-- The payout and audit keys are built here from the prefix (the session index says which payout):
-- they share the prefix's hash tag, so on Redis Cluster they live in the session index's slot.
-- KEYS: session index. ARGV: payout key prefix (`<prefix>:payout:`), now (ISO), why.
-- Returns the payout's hash as a flat [field, value, ...] list, or {} when the session or the
-- payout is unknown.
local id = redis.call('GET', KEYS[1])
if not id then return {} end
local pk = ARGV[1] .. id
local state = redis.call('HGET', pk, 'state')
if not state then return {} end
redis.call('RPUSH', pk .. ':audit', cjson.encode({ at = ARGV[2], state = state, why = ARGV[3] }))
return redis.call('HGETALL', pk)
