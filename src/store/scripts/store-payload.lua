-- store-payload: an event's body, stored once with the event: every delivery and every resend
-- sends these bytes (src/payouts/events.ts eventBody). The first body stored stays. An event that
-- is gone (retention) or was never recorded stores nothing.
-- KEYS: event. ARGV: the body (JSON).
-- Returns the body stored, or '' when there is no such event.
if redis.call('EXISTS', KEYS[1]) == 0 then return '' end
redis.call('HSETNX', KEYS[1], 'payload', ARGV[1])
return redis.call('HGET', KEYS[1], 'payload')
