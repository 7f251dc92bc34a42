-- create-payouts: accept a chunk of orders in one round trip, and make each new one due for the
-- reconciler (src/pipeline/reconcile.ts) in the same step, so an order whose start job is lost
-- (a web process dying mid-batch) is still driven on.
-- Each new payout also enters the list indexes (src/store/payout-store.ts list): all payouts, and
-- payouts in its state, scored by creation time (ms * 1000 + a sequence, so scores rarely tie).
-- A payout accepted without a card gets its single-use collection token (collect:<token> → id)
-- and expiry in the same step, and is due when the link expires.
-- KEYS: due index, the tenant's all-payouts index, sequence counter, tenants set, then per item: payout, audit.
-- The chunk is one tenant's: its list indexes are its own, and its id is kept on each new payout
-- ('' for the default tenant, whose payouts carry none).
-- A payout retired after PAYOUT_RETENTION_DAYS (retire-payouts.lua) left a tombstone: its id is
-- still taken, answered "existing" or "conflict" with its final state, never created again.
-- A new payout also enters the tenant's other indexes its plan names (by metadata, by the person's
-- reference: src/store/payout-store.ts metadataKey, referenceKey), scored alike, and keeps their
-- names (`indexes`) for retention to take it out again; and its plan's own fields (a saved
-- recipient's name and card, the amount for the funds counter: src/pipeline/accept-payouts.ts).
-- ARGV: now (ISO), due at (ms, unless the item says), now (ms), the tenant's state index key prefix,
--       collect token key prefix, tombstone key prefix, tenant ('' for the default), then per item: id, fingerprint, order JSON, state, audit JSON,
--       has callback ('1' | '0'), due at ('' for the default), collect token ('' for none),
--       collect expiry (ms, '' for none), fields JSON ([k, v, ...]), index keys JSON ([key, ...]).
-- Returns per item "created:<state>:<token>", "existing:<state>:<token>" (same fingerprint) or
-- "conflict:<state>:" (the token is the payout's collect token, '' for none).
local now, dueAt, nowMs, stateIndex, collectIndex, tombIndex, tenant = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local out = {}
local made = false
for i = 1, (#KEYS - 4) / 2 do
  local pk, ak = KEYS[2 * i + 3], KEYS[2 * i + 4]
  local a = 7 + (i - 1) * 11
  local id, fp, order, state, audit, cb = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
  local itemDue, token, expires, fields, indexes = ARGV[a + 7], ARGV[a + 8], ARGV[a + 9], ARGV[a + 10], ARGV[a + 11]
  local existing = redis.call('HMGET', pk, 'fingerprint', 'state', 'collect_token')
  if not existing[1] then
    local tomb = redis.call('GET', tombIndex .. id)
    if tomb then
      local tstate, tfp = string.match(tomb, '^([^|]*)|([^|]*)')
      existing = { tfp, tstate, false }
    end
  end
  if existing[1] then
    if existing[1] == fp then
      out[i] = 'existing:' .. existing[2] .. ':' .. (existing[3] or '')
    else
      out[i] = 'conflict:' .. existing[2] .. ':'
    end
  else
    local score = nowMs * 1000 + (redis.call('INCR', KEYS[3]) % 1000)
    redis.call('HSET', pk, 'id', id, 'state', state, 'order', order, 'fingerprint', fp,
      'created_at', now, 'updated_at', now, 'start_attempts', '0', 'has_callback', cb, 'list_score', string.format('%.0f', score))
    if tenant ~= '' then redis.call('HSET', pk, 'tenant', tenant) end
    local extra = cjson.decode(fields)
    if #extra > 0 then redis.call('HSET', pk, unpack(extra)) end
    local more = cjson.decode(indexes)
    for _, key in ipairs(more) do redis.call('ZADD', key, score, id) end
    if #more > 0 then redis.call('HSET', pk, 'indexes', table.concat(more, ' ')) end
    made = true
    redis.call('RPUSH', ak, audit)
    redis.call('ZADD', KEYS[1], itemDue ~= '' and itemDue or dueAt, id)
    redis.call('ZADD', KEYS[2], score, id)
    redis.call('ZADD', stateIndex .. state, score, id)
    if token ~= '' then
      redis.call('HSET', pk, 'collect_token', token, 'collect_expires_at', expires)
      redis.call('SET', collectIndex .. token, id)
    end
    out[i] = 'created:' .. state .. ':' .. token
  end
end
if made and tenant ~= '' then redis.call('SADD', KEYS[4], tenant) end
return out
