-- save-recipient-card: a new saved card on a recipient (src/store/recipient-store.ts saveCard): a new
-- card id, status active, the invalid marks of the card it replaces cleared. Through a single-use
-- link, the link is checked and spent in the same step, so two cards sent at once save one.
-- KEYS: the recipient, the link that must still be live (the recipient's key again for none: a key
--       that has expired or was never set is a link gone), the link's spent mark (the recipient's key
--       again for none).
-- ARGV: tenant, card id, brand, last 4, hashes (JSON), now (ISO), the spent mark's value, its life
--       (ms; the link's remaining life is added), '1' when the card it replaces must be invalid.
-- Returns 'ok' | 'missing' (no such recipient of this tenant) | 'expired' (the link is gone) |
--         'used' (the link was spent) | 'not_invalid' (the recipient's card is not invalid).
local rk, link, spent = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', rk, 'tenant') ~= ARGV[1] then return 'missing' end
local life = tonumber(ARGV[8])
if link ~= rk then
  local left = redis.call('PTTL', link)
  if left == -2 then return 'expired' end
  if left > 0 then life = life + left end
end
if spent ~= rk and redis.call('EXISTS', spent) == 1 then return 'used' end
if ARGV[9] == '1' and redis.call('HGET', rk, 'card_status') ~= 'invalid' then return 'not_invalid' end
redis.call('HSET', rk, 'card_id', ARGV[2], 'card_brand', ARGV[3], 'card_last4', ARGV[4], 'card_hashes', ARGV[5],
  'card_saved_at', ARGV[6], 'card_status', 'active', 'updated_at', ARGV[6])
redis.call('HDEL', rk, 'card_invalid_code', 'card_invalid_text', 'card_invalid_at')
if spent ~= rk then
  if life > 0 then redis.call('SET', spent, ARGV[7], 'PX', life) else redis.call('SET', spent, ARGV[7]) end
end
return 'ok'
