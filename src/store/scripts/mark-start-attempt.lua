-- mark-start-attempt: note that start/payout is about to be sent for the recorded session, so that
-- any later run (retry, crash, second worker) asks session/status before sending again.
-- KEYS: payout. ARGV: session id.
-- Returns the attempt count, or -1 when the payout no longer waits to be started in that session.
local f = redis.call('HMGET', KEYS[1], 'state', 'session_id')
if (f[1] ~= 'session_created' and f[1] ~= 'awaiting_funds') or f[2] ~= ARGV[1] then return -1 end
return redis.call('HINCRBY', KEYS[1], 'start_attempts', 1)
