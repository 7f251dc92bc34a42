-- screen-payout: the approval rules' counters (src/rules/screening.ts plans them), checked and taken
-- in one step, so two workers can never both take the last slot of a limit. A payout is counted
-- once: the first run that clears it stamps `screened` on the record, and any later run (a retried
-- start job) finds the stamp and counts nothing again.
-- A payout a reviewer approved (`review_decision` = approved, written by the approveReview step) is
-- counted without being checked: a person decided it may go over.
-- Every key shares the payout's hash-tagged prefix, so Cluster keeps one slot.
-- KEYS: payout, then each check's key in ARGV order.
-- ARGV: hold ('1': a rule the caller checked itself is breached: report what else is, count nothing),
--       then per check: kind ('c': a counter hash of count `c` and sum `s` | 'd': a duplicate guard
--       naming the payout that took it), count limit ('' none), sum limit ('' none), ttl (ms).
-- The amount is the record's own, never the caller's.
-- Returns {'moved', state} | {'counted', how} (already counted earlier) | {'pass', how} (counted now:
-- 'checked' or 'approved') | {'breach', '<check index>:count|sum:<count>:<sum>' | '<check index>:duplicate', ...}
-- (counted nothing; a full counter says what it held).
local f = redis.call('HMGET', KEYS[1], 'state', 'screened', 'review_decision', 'amount', 'id')
if f[1] ~= 'queued' then return {'moved', f[1] or ''} end
if f[2] then return {'counted', f[2]} end
local amount = tonumber(f[4] or '0') or 0
local checks = (#ARGV - 1) / 4
local approved = f[3] == 'approved'
local function check(i) return ARGV[2 + (i - 1) * 4], ARGV[3 + (i - 1) * 4], ARGV[4 + (i - 1) * 4], ARGV[5 + (i - 1) * 4] end
if not approved then
  local out = {'breach'}
  for i = 1, checks do
    local kind, count, sum = check(i)
    local key = KEYS[i + 1]
    if kind == 'd' then
      local holder = redis.call('GET', key)
      if holder and holder ~= f[5] then out[#out + 1] = i .. ':duplicate' end
    else
      local h = redis.call('HMGET', key, 'c', 's')
      local c, s = tonumber(h[1] or '0'), tonumber(h[2] or '0')
      local seen = ':' .. (h[1] or '0') .. ':' .. (h[2] or '0')
      if count ~= '' and c + 1 > tonumber(count) then out[#out + 1] = i .. ':count' .. seen end
      if sum ~= '' and s + amount > tonumber(sum) then out[#out + 1] = i .. ':sum' .. seen end
    end
  end
  if #out > 1 or ARGV[1] == '1' then return out end
end
for i = 1, checks do
  local kind, _, _, ttl = check(i)
  local key = KEYS[i + 1]
  if kind == 'd' then
    redis.call('SET', key, f[5], 'PX', ttl)
  else
    redis.call('HINCRBY', key, 'c', 1)
    redis.call('HINCRBY', key, 's', amount)
    redis.call('PEXPIRE', key, ttl)
  end
end
local how = approved and 'approved' or 'checked'
redis.call('HSET', KEYS[1], 'screened', how)
return {'pass', how}
