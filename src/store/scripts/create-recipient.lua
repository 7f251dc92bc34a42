-- create-recipient: a tenant's new saved recipient (src/store/recipient-store.ts), idempotent on the
-- tenant's own reference: two creates with one reference at once make one recipient.
-- KEYS: the new recipient (`recipient:<tenant>:<id>`), the reference (`recipient-ref:<tenant>:<reference>`),
--       the tenant's list index (`recipients:<tenant>`, scored by creation in ms).
-- ARGV: the new id, its creation time (ms), then its fields as field, value pairs.
-- Returns {'created', id} or {'existing', the id the reference already names}.
local existing = redis.call('GET', KEYS[2])
if existing then return {'existing', existing} end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return {'created', ARGV[1]}
