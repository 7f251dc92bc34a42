-- mark-notified: a destination acknowledged one of a payout's events (answered 2xx), or is no longer
-- owed it (its webhook endpoint deleted, disabled, or no longer taking the type: the reason is kept).
-- Once every destination the event was owed to is settled (`event:<evt>:pending` empty:
-- transition.lua filled it) and the event is the payout's final state's own, the payout is told
-- of that state. Once no event of the payout (its `events` field: its outcome, a `returned` after a
-- `succeeded`, a saved card found unusable) is owed to anyone, it leaves the due index, so the
-- reconciler stops looking at it. Each destination's delivery is settled on its own, so one that
-- fails never holds back, or has re-sent to it, another that already has the event.
-- The time the last one settled is kept (notified_at, on the payout and the event): retention
-- counts from it too. It is not moved by a later delivery (a resend, a job added by hand).
-- A payout that ended before events were recorded has no event: its callback_url settles it.
-- KEYS: payout, due index, event, the event's pending destinations, the event's attempts.
-- ARGV: event (its name: a final state, or card_invalid), payout id, now (ISO), destination ('' settles
--       every one at once), 'delivered' or why it is dropped, the attempt (JSON; '' for none),
--       attempts kept, key prefix (`<prefix>`: the payout's other events' keys are built from it).
-- Returns 1 when the payout is done with, 0 when destinations remain or its state is not (or no
-- longer) final.
local f = redis.call('HMGET', KEYS[1], 'state', 'events', 'notified')
local state = f[1]
if not state then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then
  if ARGV[6] ~= '' then
    redis.call('RPUSH', KEYS[5], ARGV[6])
    redis.call('LTRIM', KEYS[5], -tonumber(ARGV[7]), -1)
  end
  if ARGV[4] == '' then
    redis.call('DEL', KEYS[4])
  else
    local owed = redis.call('SREM', KEYS[4], ARGV[4])
    if ARGV[5] == 'delivered' then
      redis.call('HSET', KEYS[3], 'delivered:' .. ARGV[4], ARGV[3])
    elseif owed == 1 then
      redis.call('HSET', KEYS[3], 'dropped:' .. ARGV[4], ARGV[5])
    end
  end
  if redis.call('SCARD', KEYS[4]) > 0 then return 0 end
  redis.call('HSETNX', KEYS[3], 'notified_at', ARGV[3])
end
if state == ARGV[1] and f[3] ~= ARGV[1] then redis.call('HSET', KEYS[1], 'notified', ARGV[1], 'notified_at', ARGV[3]) end
if f[2] then
  -- every event of the payout, the final state's own among them
  -- every event of the payout, the final state's own among them (this one's was counted above)
  for name in string.gmatch(f[2], '[^,]+') do
    local pending = ARGV[8] .. ':event:evt_' .. ARGV[2] .. '_' .. name .. ':pending'
    if pending ~= KEYS[4] and redis.call('SCARD', pending) > 0 then return 0 end
  end
elseif redis.call('HGET', KEYS[1], 'notified') ~= state then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[2])
-- Done with: nothing re-drives it now, so its last job and transition token are dropped.
redis.call('HDEL', KEYS[1], 'last_job', 'transition_token')
return 1
