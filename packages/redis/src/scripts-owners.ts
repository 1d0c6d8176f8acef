/**
 * The Lua scripts of command ownership and of the queue listing with its consumers (merged into
 * `Scripts` with the others). `<p>owners` is a hash: command type → `queue⇥service⇥since`; `<p>idle` a hash: queue →
 * epoch ms since which it has had no consumer (set when declared, and when a consumer leaves).
 *
 * - `claim` is the whole claim in one script, so two claims of one type never interleave: the
 *   first to run writes the owner (`HSETNX` in spirit: a type that has an owner keeps it), the
 *   second finds it and is refused. With take-over, the previous owner's binding of the type is
 *   removed and the claimant's queue bound (created if need be) in the same script, and the
 *   routing version bumped: no publish ever finds both queues bound, or neither.
 * - `stats` counts a queue's consumers from `XINFO CONSUMERS`: a consumer is named after its
 *   connection, and counts while that connection's liveness key lives (Redis 7.0 does not refresh
 *   the idle time of a consumer blocked on an empty stream, so idle time alone cannot tell).
 * - `leave` removes a closing consumer from the group once it holds nothing (`XGROUP
 *   DELCONSUMER` would drop what it holds from the pending-entries list), and notes the time.
 *
 * @example
 * ```ts
 * await scripts.run('claim', [], [prefix, 'billing', 'shop', Date.now(), '0', 'shop.charge-card']);
 * ```
 * @module
 */
import { COMMON } from './lua-common.js';

/**
 * `consumers(P, q, s, now, prune)`: the consumers of a queue's group that are alive (their name
 * starts with the id of a connection whose liveness key exists), and the latest time a departed
 * one was seen (now − its idle time). With `prune`, departed consumers that hold nothing are
 * deleted from the group (their time kept in `<p>idle`). Needs `G` (from `COMMON`).
 */
export const LIVENESS = `
local function consumers(P, q, s, now, prune)
  local ok, list = pcall(redis.call, 'XINFO', 'CONSUMERS', s, G)
  if not ok then return 0, nil end
  local live, seen = 0, nil
  for _, entry in ipairs(list) do
    local name, pending, idle = '', 0, 0
    for j = 1, #entry, 2 do
      local f = entry[j]
      if f == 'name' then name = entry[j + 1] elseif f == 'pending' then pending = entry[j + 1] elseif f == 'idle' then idle = entry[j + 1] end
    end
    if redis.call('EXISTS', P..'conn:'..string.sub(name, 1, 36)) == 1 then
      live = live + 1
    else
      local at = now - idle
      if not seen or at > seen then seen = at end
      if prune and pending == 0 then
        redis.call('XGROUP', 'DELCONSUMER', s, G, name)
        if tonumber(redis.call('HGET', P..'idle', q) or '0') < at then redis.call('HSET', P..'idle', q, at) end
      end
    end
  end
  return live, seen
end
`;

/** The scripts. */
export const OWNER_SOURCES = {
  /**
   * ARGV: prefix, queue, service, now, '1' to take over, types... Returns {0, type, owner} when a
   * type is owned by another queue (nothing written), else {1, type, previous owner, ...} (the
   * types taken over).
   */
  claim: `${COMMON}
local P, q, svc, now, take = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] == '1'
local owners = P..'owners'
local from = {}
for i = 6, #ARGV do
  local rec = redis.call('HGET', owners, ARGV[i])
  local owner = rec and string.match(rec, '^([^\\t]*)')
  from[i] = owner or false
  if owner and owner ~= q and not take then return {0, ARGV[i], owner} end
end
local out = {1}
for i = 6, #ARGV do
  local t, owner = ARGV[i], from[i]
  if owner ~= q then
    if owner then
      redis.call('SREM', P..'bindings', owner..'\\t'..t)
      if redis.call('HSETNX', P..'queues', q, '') == 1 then redis.call('HSETNX', P..'idle', q, now) end
      if redis.call('EXISTS', P..'q:'..q) == 0 then redis.call('XGROUP', 'CREATE', P..'q:'..q, G, '0', 'MKSTREAM') end
      redis.call('SADD', P..'bindings', q..'\\t'..t)
      out[#out + 1] = t
      out[#out + 1] = owner
    end
    redis.call('HSET', owners, t, q..'\\t'..svc..'\\t'..now)
  end
end
if #out > 1 then redis.call('INCR', P..'bver') end
return out`,

  /** KEYS: stream; ARGV: prefix, queue, consumer, now. Deletes the consumer from the group if it holds nothing; returns 1 if it did. */
  leave: `${COMMON}
local s, P, q, c = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', s) == 0 then return 0 end
local ok, held = pcall(redis.call, 'XPENDING', s, G, '-', '+', 1, c)
if not ok or #held > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', s, G, c)
if redis.call('HEXISTS', P..'queues', q) == 1 then redis.call('HSET', P..'idle', q, ARGV[4]) end
return 1`,
  /**
   * ARGV: prefix, queue, now. Returns {messages in the stream, messages in pending entries,
   * delayed, dead letters, waiting for a key, live consumers, since when without one (or -1)}. A
   * batch entry counts its messages (entries plus the stream's count in `<p>batched`); a pending
   * one, those not yet nacked or dead-lettered (`<p>bs:<queue>`).
   */
  stats: `${COMMON}${LIVENESS}
local P, q = ARGV[1], ARGV[2]
local s = P..'q:'..q
local xlen, pending, parked, gone = redis.call('XLEN', s), 0, 0, 0
local extra = xlen > 0 and tonumber(redis.call('HGET', P..'batched', s) or '0') or 0
if xlen > 0 then
  local ok, p = pcall(redis.call, 'XPENDING', s, 'missive')
  if ok then pending = p[1] end
  if ok and extra > 0 and pending > 0 then
    -- Pending batch entries hold several messages each: count them (the pending list is bounded
    -- by the consumers' prefetch).
    local start = '-'
    repeat
      local list = redis.call('XPENDING', s, 'missive', start, '+', 1000)
      for _, e in ipairs(list) do
        local r = redis.call('XRANGE', s, e[1], e[1])[1]
        if r and r[2][1] == 'M' then
          pending = pending + struct.unpack('>I4', r[2][2], 2) - 1
          -- Its messages already nacked or dead-lettered are counted where they went: neither here nor in flight.
          gone = gone + settledCount(redis.call('HGET', P..'bs:'..q, e[1]))
        end
      end
      if #list < 1000 then break end
      start = '('..list[#list][1]
    until false
  end
end
for _, k in ipairs(redis.call('SMEMBERS', P..'wk:'..q)) do parked = parked + redis.call('LLEN', P..'w:'..q..'|'..k) end
local live, seen = consumers(P, q, s, tonumber(ARGV[3]), false)
local since = -1
if live == 0 then
  since = tonumber(redis.call('HGET', P..'idle', q) or '-1')
  if seen and seen > since then since = seen end
end
return {xlen + extra - gone, pending - gone, redis.call('SCARD', P..'dq:'..q), redis.call('XLEN', P..'dl:'..q), parked, live, since}`,
} as const;
