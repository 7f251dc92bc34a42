-- record-attempt: one delivery attempt of an event that did not settle it (no complete answer in
-- time, an answer other than 2xx, an address refused), kept beside the event for
-- GET /v1/events/{id}: newest last, the oldest dropped past the cap. A delivery that settles a
-- destination records its attempt in mark-notified.lua instead. An event that is gone (retention)
-- or was never recorded gets nothing, so no attempts are left behind without their event.
-- KEYS: event, the event's attempts. ARGV: the attempt (JSON), attempts kept.
-- Returns 1 when recorded, 0 when there is no such event.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
return 1
