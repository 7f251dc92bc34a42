-- mark-notified: upstream acknowledged the callback for an outcome; a payout told of its final
-- state leaves the due index, so the reconciler stops looking at it.
-- The time upstream was told is kept (notified_at): retention counts from it too.
-- KEYS: payout, due index. ARGV: event (a terminal state), payout id, now (ISO).
-- Returns 1 when the payout is done with, 0 when its state is not (or no longer) that event.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 0 end
redis.call('HSET', KEYS[1], 'notified', ARGV[1], 'notified_at', ARGV[3])
if state == ARGV[1] then
  redis.call('ZREM', KEYS[2], ARGV[2])
  -- Done with: nothing re-drives it now, so its last job and transition token are dropped.
  redis.call('HDEL', KEYS[1], 'last_job', 'transition_token')
  return 1
end
return 0
