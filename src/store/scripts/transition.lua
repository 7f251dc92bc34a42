-- transition: compare-and-set the state from one of the expected states, set fields, append the
-- audit event, index the session to the payout when one is named, and record when the payout
-- must next be looked at, all at once. A terminal payout stays due until its callback is sent
-- (mark-notified.lua takes it off); one without a callback_url leaves the index.
-- It also moves the payout between the per-state list indexes (create-payouts.lua), whose key is
-- built here from the state: every key shares the payout's hash tag, so Cluster keeps one slot.
-- KEYS: payout, audit, session index, due index.
-- ARGV: expected states (comma-separated), to, now (ISO), why, fields JSON ([k, v, ...]; '' removes k),
--       session id to index ('' for none), payout id, token, due at (ms), terminal ('1' | '0'),
--       list index key prefix (`<prefix>:list:`; the tenant's part and `state:` are added here),
--       who asked for it ('' for nobody: an API key's id, kept in the audit entry as `by`).
-- The token makes a re-run of the same call (the client re-sends a script whose reply was lost
-- when the connection dropped) answer 'ok' again instead of 'conflict', so the caller does not
-- abandon a step it actually won.
-- Returns {'ok', from} | {'conflict', current} | {'missing', ''}.
local f = redis.call('HMGET', KEYS[1], 'state', 'transition_token', 'has_callback', 'notified', 'list_score', 'tenant')
local current = f[1]
if not current then return {'missing', ''} end
if current == ARGV[2] and f[2] == ARGV[8] then return {'ok', 'replayed'} end
local expected = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == current then expected = true end
end
if not expected then return {'conflict', current} end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updated_at', ARGV[3], 'transition_token', ARGV[8])
-- A field set to '' is removed rather than stored empty: a record keeps only what it says.
local fields = cjson.decode(ARGV[5])
for i = 1, #fields, 2 do
  if fields[i + 1] == '' then redis.call('HDEL', KEYS[1], fields[i]) else redis.call('HSET', KEYS[1], fields[i], fields[i + 1]) end
end
local event = { at = ARGV[3], from = current, to = ARGV[2], why = ARGV[4] }
if ARGV[12] and ARGV[12] ~= '' then event.by = ARGV[12] end
redis.call('RPUSH', KEYS[2], cjson.encode(event))
if ARGV[6] ~= '' then redis.call('SET', KEYS[3], ARGV[7]) end
if f[5] and current ~= ARGV[2] then
  -- the payout's tenant's per-state lists (create-payouts.lua): list:state:<s>, or list:t:<tenant>:state:<s>
  local states = ARGV[11] .. (f[6] and ('t:' .. f[6] .. ':') or '') .. 'state:'
  redis.call('ZREM', states .. current, ARGV[7])
  redis.call('ZADD', states .. ARGV[2], f[5], ARGV[7])
end
-- A final payout no longer needs what only its confirmation decision or its start used: the
-- bank's reported facts (the audit keeps them in words) and card hashes collected through the link.
if ARGV[10] == '1' then redis.call('HDEL', KEYS[1], 'reported', 'collected_card') end
if ARGV[10] == '1' and (f[3] ~= '1' or f[4] == ARGV[2]) then
  redis.call('ZREM', KEYS[4], ARGV[7])
else
  redis.call('ZADD', KEYS[4], ARGV[9], ARGV[7])
end
return {'ok', current}
