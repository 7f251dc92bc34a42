/**
 * Every atomic step on a payout record is one Lua script, named by its verb (one script, one
 * round trip, no interleaving). Keys always share the payout's hash-tagged prefix, so the scripts
 * run on Redis Cluster too.
 */

/**
 * create-payouts: accept a chunk of orders in one round trip.
 * KEYS: payout, audit (per item). ARGV: now, then per item: id, fingerprint, order JSON, state, audit JSON.
 * Returns per item "created:<state>", "existing:<state>" (same fingerprint) or "conflict:<state>".
 */
export const CREATE_PAYOUTS = `
local now = ARGV[1]
local out = {}
for i = 1, #KEYS / 2 do
  local pk, ak = KEYS[2 * i - 1], KEYS[2 * i]
  local a = 1 + (i - 1) * 5
  local id, fp, order, state, audit = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local existing = redis.call('HMGET', pk, 'fingerprint', 'state')
  if existing[1] then
    if existing[1] == fp then out[i] = 'existing:' .. existing[2] else out[i] = 'conflict:' .. existing[2] end
  else
    redis.call('HSET', pk, 'id', id, 'state', state, 'order', order, 'fingerprint', fp,
      'created_at', now, 'updated_at', now, 'start_attempts', '0')
    redis.call('RPUSH', ak, audit)
    out[i] = 'created:' .. state
  end
end
return out
`;

/**
 * transition: compare-and-set the state from one of the expected states, set fields, append the
 * audit event, and (when a session is named) index the session to the payout, all at once.
 * KEYS: payout, audit, session index. ARGV: expected states (comma-separated), to, now, why,
 * fields JSON ([k, v, ...]), session id to index ('' for none), payout id, token.
 * The token makes a re-run of the same call (the client re-sends a script whose reply was lost
 * when the connection dropped) answer 'ok' again instead of 'conflict', so the caller does not
 * abandon a step it actually won.
 * Returns {'ok', from} | {'conflict', current} | {'missing', ''}.
 */
export const TRANSITION = `
local f = redis.call('HMGET', KEYS[1], 'state', 'transition_token')
local current = f[1]
if not current then return {'missing', ''} end
if current == ARGV[2] and f[2] == ARGV[8] then return {'ok', 'replayed'} end
local expected = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == current then expected = true end
end
if not expected then return {'conflict', current} end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updated_at', ARGV[3], 'transition_token', ARGV[8])
local fields = cjson.decode(ARGV[5])
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
redis.call('RPUSH', KEYS[2], cjson.encode({ at = ARGV[3], from = current, to = ARGV[2], why = ARGV[4] }))
if ARGV[6] ~= '' then redis.call('SET', KEYS[3], ARGV[7]) end
return {'ok', current}
`;

/**
 * mark-start-attempt: note that start/payout is about to be sent for the recorded session, so that
 * any later run (retry, crash, second worker) asks session/status before sending again.
 * KEYS: payout. ARGV: session id. Returns the attempt count, or -1 when the payout is no longer
 * session_created with that session.
 */
export const MARK_START_ATTEMPT = `
local f = redis.call('HMGET', KEYS[1], 'state', 'session_id')
if f[1] ~= 'session_created' or f[2] ~= ARGV[1] then return -1 end
return redis.call('HINCRBY', KEYS[1], 'start_attempts', 1)
`;

/**
 * take-token: a token bucket shared by every worker, on Redis time. KEYS: bucket. ARGV: rate per
 * second, capacity. Returns 0 when a token was taken, else the milliseconds to wait.
 */
export const TAKE_TOKEN = `
local rate, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or cap
local ts = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate / 1000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 60000)
return wait
`;
