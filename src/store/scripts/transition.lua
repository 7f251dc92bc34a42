-- transition: compare-and-set the state from one of the expected states, set fields, append the
-- audit event, index the session to the payout when one is named, and record when the payout
-- must next be looked at, all at once.
-- It also moves the payout between the per-state list indexes (create-payouts.lua), whose key is
-- built here from the state: every key shares the payout's hash tag, so Cluster keeps one slot.
-- What waits for a top-up (`funds:waiting`, payout → amount) follows moves into and out of
-- `awaiting_funds`; a hash rather than a running sum, so it cannot drift. The first move to a final
-- state stamps `finished_at` and enters the tenant's `finished` index (read by statements); a
-- later `returned` moves neither.
-- A move that ends the payout records its outcome's event in the same step, whether or not anyone
-- is to be told (src/payouts/events.ts; read by src/store/event-store.ts): `event:<evt>` (its type,
-- payout, tenant, time, list score and the destinations it is owed to: the payout's callback_url
-- when it has one, then each webhook endpoint of its tenant that is enabled and takes the type,
-- read from `endpoints:<tenant>` and `endpoint:<id>`), `event:<evt>:pending` (those owed and not
-- yet acknowledged) and the tenant's event indexes (`events:<tenant>`, `events:<tenant>:type:<type>`,
-- scored like the list indexes). The payout's `events` field names every event it has.
-- A payout that fails to a saved card the bank calls unusable (src/recipients/unusable-card.ts; the
-- caller passes the recipient's key and the card's id) marks that card invalid on the recipient,
-- if it is still the recipient's card and not already marked, and records a second event,
-- `recipient.card_invalid`, in the same step.
-- The payout stays due until every destination of every one of its events has acknowledged
-- (mark-notified.lua takes it off); one whose events are owed to nobody leaves the index at once.
-- A step that learns the card's last 4 indexes the payout by them (`list:…last4:<last4>`, named in
-- `indexes` for retention), and every move into review or a final state is counted per hour for the
-- operator console's charts (`stats:h:<hour>`: per state, and `paid`: kopecks that succeeded).
-- KEYS: payout, audit, session index, due index.
-- ARGV: expected states (comma-separated), to, now (ISO), why, fields JSON ([k, v, ...]; '' removes k),
--       session id to index ('' for none), payout id, token, due at (ms), terminal ('1' | '0'),
--       list index key prefix (`<prefix>:list:`; the tenant's part and `state:` are added here),
--       who asked for it ('' for nobody: an API key's id, kept in the audit entry as `by`),
--       key prefix (`<prefix>`: event, endpoint and funds keys are built from it), now (ms),
--       the saved card to mark invalid on failure (`<recipient key>|<card id>`, '' for none).
-- The token makes a re-run of the same call (the client re-sends a script whose reply was lost
-- when the connection dropped) answer 'ok' again instead of 'conflict', so the caller does not
-- abandon a step it actually won.
-- Returns {'ok', from, ['=' .. event, destination...]...} | {'conflict', current} | {'missing', ''}:
-- after a move that ends the payout, each of its events (`=<name>`) and the destinations still owed it.
local f = redis.call('HMGET', KEYS[1], 'state', 'transition_token', 'has_callback', 'notified', 'list_score', 'tenant', 'events',
  'amount', 'order', 'finished_at', 'card_last4', 'indexes')
local current = f[1]
if not current then return {'missing', ''} end
local prefix, tenant = ARGV[13], f[6] or 'default'
local id, to = ARGV[7], ARGV[2]
local function eventKey(name) return prefix .. ':event:evt_' .. id .. '_' .. name end
local function names(list)
  local out = {}
  for n in string.gmatch(list or '', '[^,]+') do out[#out + 1] = n end
  return out
end
-- events recorded by this very call: whom each is owed to is known without reading it back
local fresh = {}
-- every event the payout has, with the destinations that have not acknowledged it yet
local function owed(out, events)
  local settled = true
  for _, name in ipairs(events) do
    local pending = fresh[name] or redis.call('SMEMBERS', eventKey(name) .. ':pending')
    table.sort(pending)
    out[#out + 1] = '=' .. name
    for _, d in ipairs(pending) do
      out[#out + 1] = d
      settled = false
    end
  end
  return settled
end
if current == to and f[2] == ARGV[8] then
  local out = {'ok', 'replayed'}
  if ARGV[10] == '1' then owed(out, names(f[7])) end
  return out
end
local expected = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == current then expected = true end
end
if not expected then return {'conflict', current} end
-- The record's fields are written once, at the end (flush): one HSET and at most one HDEL a move.
local hset, hdel = { 'state', to, 'updated_at', ARGV[3], 'transition_token', ARGV[8] }, {}
local function flush()
  redis.call('HSET', KEYS[1], unpack(hset))
  if #hdel > 0 then redis.call('HDEL', KEYS[1], unpack(hdel)) end
end
-- A field set to '' is removed rather than stored empty: a record keeps only what it says.
local fields = cjson.decode(ARGV[5])
local set = {}
for i = 1, #fields, 2 do
  set[fields[i]] = fields[i + 1]
  if fields[i + 1] == '' then hdel[#hdel + 1] = fields[i] else hset[#hset + 1] = fields[i]; hset[#hset + 1] = fields[i + 1] end
end
local audit = { at = ARGV[3], from = current, to = to, why = ARGV[4] }
if ARGV[12] and ARGV[12] ~= '' then audit.by = ARGV[12] end
redis.call('RPUSH', KEYS[2], cjson.encode(audit))
if ARGV[6] ~= '' then redis.call('SET', KEYS[3], id) end
local lists = ARGV[11] .. (f[6] and ('t:' .. f[6] .. ':') or '')
-- card last 4 learned by this step (a collected card, the bank's word) join the tenant's last-4
-- index; retention takes the payout out of it through `indexes`
if f[5] and set.card_last4 and set.card_last4 ~= '' and set.card_last4 ~= f[11] then
  local key = lists .. 'last4:' .. set.card_last4
  redis.call('ZADD', key, f[5], id)
  local indexes = f[12] or ''
  if not string.find(' ' .. indexes .. ' ', ' ' .. key .. ' ', 1, true) then
    hset[#hset + 1] = 'indexes'
    hset[#hset + 1] = indexes == '' and key or (indexes .. ' ' .. key)
  end
end
-- the console's charts: per hour, payouts entering review or a final state, and the kopecks paid
local charted = { awaiting_review = true, succeeded = true, failed = true, cancelled = true, expired = true, returned = true, rejected = true }
if charted[to] and current ~= to then
  local sk = prefix .. ':stats:h:' .. string.format('%d', math.floor(tonumber(ARGV[14]) / 3600000))
  -- the hour's first count of a state gives the hash its lifetime
  if redis.call('HINCRBY', sk, to, 1) == 1 then redis.call('EXPIRE', sk, 172800) end
  if to == 'succeeded' then redis.call('HINCRBY', sk, 'paid', string.format('%.0f', tonumber(f[8] or '0') or 0)) end
end
if f[5] and current ~= to then
  -- the payout's tenant's per-state lists (create-payouts.lua): list:state:<s>, or list:t:<tenant>:state:<s>
  redis.call('ZREM', lists .. 'state:' .. current, id)
  redis.call('ZADD', lists .. 'state:' .. to, f[5], id)
end
if to == 'awaiting_funds' then
  local amount = tonumber(f[8] or '')
  if not amount and f[9] then
    local ok, order = pcall(cjson.decode, f[9])
    amount = ok and type(order) == 'table' and type(order.amount_details) == 'table' and tonumber(order.amount_details.amount) or 0
  end
  redis.call('HSET', prefix .. ':funds:waiting', id, string.format('%.0f', amount or 0))
elseif current == 'awaiting_funds' then
  redis.call('HDEL', prefix .. ':funds:waiting', id)
end
local out = {'ok', current}
local final = { succeeded = true, failed = true, cancelled = true, expired = true, returned = true, rejected = true }
if ARGV[10] == '1' then
  -- only the first final state finishes the payout (one that finished before this was kept has none)
  if not f[10] and not final[current] then
    hset[#hset + 1] = 'finished_at'
    hset[#hset + 1] = ARGV[3]
    redis.call('ZADD', lists .. 'finished', ARGV[14], id)
  end
  -- A final payout no longer needs what only its confirmation decision or its start used: the
  -- bank's reported facts (the audit keeps them in words) and card hashes collected through the link.
  hdel[#hdel + 1] = 'reported'
  hdel[#hdel + 1] = 'collected_card'
  local events = names(f[7])
  -- a payout that ended before its events were named in `events` still has its outcome's event
  if not f[7] and final[current] and redis.call('EXISTS', eventKey(current)) == 1 then events = { current } end
  local function record(name, type, extra)
    local destinations = {}
    if f[3] == '1' then destinations[1] = 'callback_url' end
    local endpoints = redis.call('SMEMBERS', prefix .. ':endpoints:' .. tenant)
    table.sort(endpoints)
    for _, e in ipairs(endpoints) do
      local ep = redis.call('HMGET', prefix .. ':endpoint:' .. e, 'events', 'disabled')
      if ep[1] and ep[2] ~= '1' and string.find(ep[1], ',' .. type .. ',', 1, true) then destinations[#destinations + 1] = e end
    end
    local ek = eventKey(name)
    if redis.call('EXISTS', ek) == 0 then
      local score = tonumber(ARGV[14]) * 1000 + (redis.call('INCR', prefix .. ':events:seq') % 1000)
      local scoreText = string.format('%.0f', score)
      local evt = 'evt_' .. id .. '_' .. name
      redis.call('HSET', ek, 'id', evt, 'type', type, 'payout', id, 'tenant', tenant, 'created_at', ARGV[3],
        'score', scoreText, 'destinations', table.concat(destinations, ','), unpack(extra))
      if #destinations > 0 then redis.call('SADD', ek .. ':pending', unpack(destinations)) end
      local owedTo = {}
      for i, d in ipairs(destinations) do owedTo[i] = d end
      table.sort(owedTo)
      fresh[name] = owedTo
      redis.call('ZADD', prefix .. ':events:' .. tenant, scoreText, evt)
      redis.call('ZADD', prefix .. ':events:' .. tenant .. ':type:' .. type, scoreText, evt)
    end
    local known = false
    for _, n in ipairs(events) do if n == name then known = true end end
    if not known then events[#events + 1] = name end
  end
  record(to, 'payout.' .. to, {})
  if to == 'failed' and ARGV[15] and ARGV[15] ~= '' then
    local rk, card = string.match(ARGV[15], '^(.*)|([^|]*)$')
    local r = redis.call('HMGET', rk, 'card_id', 'card_status', 'id')
    if r[1] and r[1] == card and r[2] ~= 'invalid' then
      redis.call('HSET', rk, 'card_status', 'invalid', 'card_invalid_code', set.error_code or '', 'card_invalid_text', set.error_text or '',
        'card_invalid_at', ARGV[3], 'updated_at', ARGV[3])
      record('card_invalid', 'recipient.card_invalid', { 'recipient', r[3] or '', 'card', card })
    end
  end
  hset[#hset + 1] = 'events'
  hset[#hset + 1] = table.concat(events, ',')
  -- done with once no event of it is owed to anyone any more (or none ever was)
  if owed(out, events) then
    flush()
    redis.call('ZREM', KEYS[4], id)
    return out
  end
end
flush()
redis.call('ZADD', KEYS[4], ARGV[9], id)
return out
