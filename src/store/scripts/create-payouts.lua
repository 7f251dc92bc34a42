-- create-payouts: accept a chunk of orders in one round trip, and make each new one due for the
-- reconciler (src/pipeline/reconcile.ts) in the same step, so an order whose start job is lost
-- (a web process dying mid-batch) is still driven on.
-- KEYS: due index, then per item: payout, audit.
-- ARGV: now (ISO), due at (ms), then per item: id, fingerprint, order JSON, state, audit JSON,
--       has callback ('1' | '0').
-- Returns per item "created:<state>", "existing:<state>" (same fingerprint) or "conflict:<state>".
local now, dueAt = ARGV[1], ARGV[2]
local out = {}
for i = 1, (#KEYS - 1) / 2 do
  local pk, ak = KEYS[2 * i], KEYS[2 * i + 1]
  local a = 2 + (i - 1) * 6
  local id, fp, order, state, audit, cb = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
  local existing = redis.call('HMGET', pk, 'fingerprint', 'state')
  if existing[1] then
    if existing[1] == fp then out[i] = 'existing:' .. existing[2] else out[i] = 'conflict:' .. existing[2] end
  else
    redis.call('HSET', pk, 'id', id, 'state', state, 'order', order, 'fingerprint', fp,
      'created_at', now, 'updated_at', now, 'start_attempts', '0', 'has_callback', cb)
    redis.call('RPUSH', ak, audit)
    redis.call('ZADD', KEYS[1], dueAt, id)
    out[i] = 'created:' .. state
  end
end
return out
