-- update-endpoint: change a webhook endpoint's fields, only if it is still there and the tenant's
-- own, so a change racing a delete never brings back half an endpoint.
-- KEYS: the endpoint. ARGV: the tenant, then field, value pairs ('' removes the field).
-- Returns 1 when changed, 0 when there is no such endpoint of this tenant.
if redis.call('HGET', KEYS[1], 'tenant') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
