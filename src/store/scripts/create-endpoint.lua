-- create-endpoint: a tenant's new webhook endpoint (src/store/webhook-endpoint-store.ts), unless it
-- has as many as it may (transition.lua reads them all at each payout's end, so they stay few).
-- KEYS: the endpoint, the tenant's endpoint ids (`endpoints:<tenant>`).
-- ARGV: the most a tenant may have, the endpoint's id, then its fields as field, value pairs.
-- Returns 1 when created, 0 when the tenant has as many as it may.
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[2])
return 1
