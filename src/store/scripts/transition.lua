-- transition: compare-and-set the state from one of the expected states, set fields, append the
-- audit event, index the session to the payout when one is named, and record when the payout
-- must next be looked at, all at once.
-- It also moves the payout between the per-state list indexes (create-payouts.lua), whose key is
-- built here from the state: every key shares the payout's hash tag, so Cluster keeps one slot.
-- A move that ends the payout records its outcome's event in the same step, whether or not anyone
-- is to be told (src/payouts/events.ts; read by src/store/event-store.ts): `event:<evt>` (its type,
-- payout, tenant, time, list score and the destinations it is owed to: the payout's callback_url
-- when it has one, then each webhook endpoint of its tenant that is enabled and takes the type,
-- read from `endpoints:<tenant>` and `endpoint:<id>`), `event:<evt>:pending` (those owed and not
-- yet acknowledged) and the tenant's event indexes (`events:<tenant>`, `events:<tenant>:type:<type>`,
-- scored like the list indexes). The payout stays due until every destination has acknowledged
-- (mark-notified.lua takes it off); one owed to nobody leaves the index at once.
-- KEYS: payout, audit, session index, due index.
-- ARGV: expected states (comma-separated), to, now (ISO), why, fields JSON ([k, v, ...]; '' removes k),
--       session id to index ('' for none), payout id, token, due at (ms), terminal ('1' | '0'),
--       list index key prefix (`<prefix>:list:`; the tenant's part and `state:` are added here),
--       who asked for it ('' for nobody: an API key's id, kept in the audit entry as `by`),
--       key prefix (`<prefix>`: event and endpoint keys are built from it), now (ms); these two are
--       needed only by a move that ends the payout.
-- The token makes a re-run of the same call (the client re-sends a script whose reply was lost
-- when the connection dropped) answer 'ok' again instead of 'conflict', so the caller does not
-- abandon a step it actually won.
-- Returns {'ok', from, destination...} | {'conflict', current} | {'missing', ''}; the destinations
-- (those still owed, on a re-run) only when the move ends the payout.
local f = redis.call('HMGET', KEYS[1], 'state', 'transition_token', 'has_callback', 'notified', 'list_score', 'tenant')
local current = f[1]
if not current then return {'missing', ''} end
-- event and endpoint keys, for a move that ends the payout (the only one that passes the prefix)
local prefix, tenant = ARGV[13], f[6] or 'default'
local function eventKey() return prefix .. ':event:evt_' .. ARGV[7] .. '_' .. ARGV[2] end
if current == ARGV[2] and f[2] == ARGV[8] then
  local out = {'ok', 'replayed'}
  if ARGV[10] == '1' then
    local pending = redis.call('SMEMBERS', eventKey() .. ':pending')
    table.sort(pending)
    for _, d in ipairs(pending) do out[#out + 1] = d end
  end
  return out
end
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
local out = {'ok', current}
if ARGV[10] == '1' then
  -- A final payout no longer needs what only its confirmation decision or its start used: the
  -- bank's reported facts (the audit keeps them in words) and card hashes collected through the link.
  redis.call('HDEL', KEYS[1], 'reported', 'collected_card')
  local type = 'payout.' .. ARGV[2]
  local destinations = {}
  if f[3] == '1' then destinations[1] = 'callback_url' end
  local endpoints = redis.call('SMEMBERS', prefix .. ':endpoints:' .. tenant)
  table.sort(endpoints)
  for _, id in ipairs(endpoints) do
    local e = redis.call('HMGET', prefix .. ':endpoint:' .. id, 'events', 'disabled')
    if e[1] and e[2] ~= '1' and string.find(e[1], ',' .. type .. ',', 1, true) then destinations[#destinations + 1] = id end
  end
  local ek = eventKey()
  if redis.call('EXISTS', ek) == 0 then
    local score = tonumber(ARGV[14]) * 1000 + (redis.call('INCR', prefix .. ':events:seq') % 1000)
    local scoreText = string.format('%.0f', score)
    local evt = 'evt_' .. ARGV[7] .. '_' .. ARGV[2]
    redis.call('HSET', ek, 'id', evt, 'type', type, 'payout', ARGV[7], 'tenant', tenant, 'created_at', ARGV[3],
      'score', scoreText, 'destinations', table.concat(destinations, ','))
    if #destinations > 0 then redis.call('SADD', ek .. ':pending', unpack(destinations)) end
    redis.call('ZADD', prefix .. ':events:' .. tenant, scoreText, evt)
    redis.call('ZADD', prefix .. ':events:' .. tenant .. ':type:' .. type, scoreText, evt)
  end
  for _, d in ipairs(destinations) do out[#out + 1] = d end
  if #destinations == 0 or f[4] == ARGV[2] then
    redis.call('ZREM', KEYS[4], ARGV[7])
    return out
  end
end
redis.call('ZADD', KEYS[4], ARGV[9], ARGV[7])
return out
