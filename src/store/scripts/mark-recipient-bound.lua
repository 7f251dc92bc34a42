-- mark-recipient-bound: a self-employed recipient allowed Bank 131 to register their income
-- (src/store/recipient-store.ts markSelfEmployedBound); a recipient of another tenant, or none, is
-- left alone.
-- KEYS: the recipient. ARGV: tenant, now (ISO).
-- Returns 1 when marked (or already bound), 0 when there is no such recipient of this tenant.
if redis.call('HGET', KEYS[1], 'tenant') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'self_employed') ~= 'bound' then
  redis.call('HSET', KEYS[1], 'self_employed', 'bound', 'updated_at', ARGV[2])
end
return 1
