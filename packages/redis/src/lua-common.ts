/**
 * Lua helpers shared by the transport's scripts (`G`, the group name; `mine`, whether a delivery is
 * still this consumer's; `release` of a partition key; `copy` and `field` of entry fields,
 * `messageId` of an entry (from its `m` value, see `entry.ts`, or its older `i` field; nil when it
 * has neither in Missive's layout); `members` of a batch entry's `M` value, each `{m, headers or ''}`
 * (nil when the value is not in Missive's layout: an entry written by something else); `single`, the fields of one message
 * entry; `settleMember`, `isSettled` and `settledCount` of the messages of a pending batch entry
 * already nacked or dead-lettered (`<p>bs:<queue>`: entry id → `,i,j,`); `uncount` of a stream's messages beyond one per batch entry (`<p>batched`); `drop` of a
 * whole queue).
 *
 * @example
 * ```ts
 * const lua = `${COMMON}\nreturn drop(ARGV[1], ARGV[2])`;
 * ```
 * @module
 */

import { BATCH_MAX_MESSAGES } from './entry.js';

/** Helpers shared by the settling scripts. */
export const COMMON = `
local G = 'missive'
local function mine(s, c, id, count)
  local p = redis.call('XPENDING', s, G, id, id, 1, c)
  return p[1] ~= nil and p[1][4] == tonumber(count)
end
local function release(P, q, k, token)
  local locks = P..'l:'..q
  if redis.call('HGET', locks, k) ~= token then return end
  local wl = P..'w:'..q..'|'..k
  local nxt = redis.call('LPOP', wl)
  if nxt then
    local id = redis.call('XADD', P..'q:'..q, '*', unpack(cmsgpack.unpack(nxt)))
    redis.call('HSET', locks, k, id)
    if redis.call('LLEN', wl) == 0 then redis.call('SREM', P..'wk:'..q, k) end
  else
    redis.call('HDEL', locks, k)
  end
end
local function copy(f, skip)
  local g = {}
  for j = 1, #f, 2 do
    if not skip[f[j]] then g[#g + 1] = f[j]; g[#g + 1] = f[j + 1] end
  end
  return g
end
local function field(f, name)
  for j = 1, #f, 2 do if f[j] == name then return f[j + 1] end end
  return nil
end
local function messageId(f)
  local m = field(f, 'm')
  if m and string.byte(m, 1) == 1 and #m >= 9 then
    local n = struct.unpack('>I4', m, 2)
    if 9 + n <= #m and 9 + n + struct.unpack('>I4', m, 6 + n) <= #m then return string.sub(m, 6, 5 + n) end
  end
  return field(f, 'i')
end
local function members(v)
  if string.byte(v, 1) ~= 2 or #v < 5 then return nil end
  local n = struct.unpack('>I4', v, 2)
  if n < 1 or n > ${BATCH_MAX_MESSAGES} then return nil end
  local out, at = {}, 6
  for i = 1, n do
    if at + 3 > #v then return nil end
    local ml = struct.unpack('>I4', v, at)
    if at + 7 + ml > #v then return nil end
    local m = string.sub(v, at + 4, at + 3 + ml)
    at = at + 4 + ml
    local hl = struct.unpack('>I4', v, at)
    if at + 3 + hl > #v then return nil end
    out[i] = {m, string.sub(v, at + 4, at + 3 + hl)}
    at = at + 4 + hl
  end
  if at ~= #v + 1 then return nil end
  return out
end
local function single(m, h, dc)
  local g = {'m', m}
  if h ~= '' then g[3] = 'h'; g[4] = h end
  if tonumber(dc) > 0 then g[#g + 1] = 'dc'; g[#g + 1] = tostring(dc) end
  return g
end
local function isSettled(v, i)
  return v and string.find(v, ','..i..',', 1, true) ~= nil
end
local function settleMember(P, q, id, i)
  local k = P..'bs:'..q
  local v = redis.call('HGET', k, id) or ','
  if isSettled(v, i) then return false end
  redis.call('HSET', k, id, v..i..',')
  return true
end
local function settledCount(v)
  if not v then return 0 end
  local _, n = string.gsub(v, ',', '')
  return n - 1
end
local function uncount(h, s, n)
  if redis.call('HINCRBY', h, s, -n) <= 0 then redis.call('HDEL', h, s) end
end
local function drop(P, q)
  redis.call('HDEL', P..'batched', P..'q:'..q)
  redis.call('DEL', P..'q:'..q, P..'l:'..q, P..'dl:'..q, P..'dli:'..q, P..'bs:'..q)
  for _, k in ipairs(redis.call('SMEMBERS', P..'wk:'..q)) do redis.call('DEL', P..'w:'..q..'|'..k) end
  for _, rid in ipairs(redis.call('SMEMBERS', P..'dq:'..q)) do
    redis.call('ZREM', P..'delayed', rid)
    redis.call('DEL', P..'d:'..rid)
  end
  redis.call('DEL', P..'wk:'..q, P..'dq:'..q)
  redis.call('SREM', P..'ordered', q)
  redis.call('HDEL', P..'idle', q)
  local existed = redis.call('HDEL', P..'queues', q)
  local prefix = q..'\\t'
  for _, b in ipairs(redis.call('SMEMBERS', P..'bindings')) do
    if string.sub(b, 1, #prefix) == prefix then redis.call('SREM', P..'bindings', b) end
  end
  local owners = redis.call('HGETALL', P..'owners')
  for j = 1, #owners, 2 do
    if string.sub(owners[j + 1], 1, #prefix) == prefix then redis.call('HDEL', P..'owners', owners[j]) end
  end
  redis.call('INCR', P..'bver')
  return existed
end
`;
