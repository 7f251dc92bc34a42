-- retire-payouts: remove finished payouts past retention, leaving each a tombstone, so the record
-- and audit stop costing memory while the order id stays taken: the same id sent again is still
-- "existing" (or a conflict), never a second payout (create-payouts.lua reads the tombstone).
-- A payout is retired only when it is terminal, upstream has been told (it has left the due
-- index), and both its last change and the moment upstream acknowledged its outcome are at or
-- before the cutoff; anything else is left for a later round.
-- Key names are built here from the prefix (ids come from the list indexes): every one shares the
-- prefix's hash tag, so on Redis Cluster they are all in one slot.
-- A payout's events go with it (transition.lua recorded them, and named them in `events`): each
-- event, its pending destinations and attempts, and its entries in the tenant's event indexes; so
-- do its entries in the finished index and in the indexes its creation and steps named (`indexes`),
-- and the calls made to the bank for it (`:calls`).
-- KEYS: due index. Each payout leaves its tenant's list indexes (list:…, or list:t:<tenant>:…).
-- ARGV: prefix, cutoff (ISO: updated_at at or before it), then payout ids.
-- Returns the number of payouts retired.
local prefix, cutoff = ARGV[1], ARGV[2]
local terminal = { succeeded = true, failed = true, cancelled = true, expired = true, returned = true, rejected = true }
local retired = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local pk = prefix .. ':payout:' .. id
  local f = redis.call('HMGET', pk, 'state', 'updated_at', 'fingerprint', 'created_at', 'session_id', 'collect_token', 'notified_at', 'tenant',
    'events', 'indexes')
  local state, updated = f[1], f[2]
  if updated and f[7] and f[7] > updated then updated = f[7] end
  if state and terminal[state] and updated and updated <= cutoff and not redis.call('ZSCORE', KEYS[1], id) then
    local tomb = prefix .. ':retired:' .. id
    redis.call('SET', tomb, state .. '|' .. (f[3] or '') .. '|' .. (f[4] or '') .. '|' .. updated)
    redis.call('DEL', pk, pk .. ':audit', pk .. ':calls')
    if f[5] and f[5] ~= '' then redis.call('DEL', prefix .. ':session:' .. f[5]) end
    if f[6] and f[6] ~= '' then redis.call('DEL', prefix .. ':collect:' .. f[6]) end
    local lists = prefix .. ':list:' .. (f[8] and ('t:' .. f[8] .. ':') or '')
    redis.call('ZREM', lists .. 'all', id)
    redis.call('ZREM', lists .. 'state:' .. state, id)
    redis.call('ZREM', lists .. 'finished', id)
    for key in string.gmatch(f[10] or '', '[^ ]+') do redis.call('ZREM', key, id) end
    local events = prefix .. ':events:' .. (f[8] or 'default')
    for name in string.gmatch(f[9] or state, '[^,]+') do
      local evt = 'evt_' .. id .. '_' .. name
      local ek = prefix .. ':event:' .. evt
      local type = name == 'card_invalid' and 'recipient.card_invalid' or ('payout.' .. name)
      redis.call('DEL', ek, ek .. ':pending', ek .. ':attempts')
      redis.call('ZREM', events, evt)
      redis.call('ZREM', events .. ':type:' .. type, evt)
    end
    retired = retired + 1
  end
end
return retired
