/**
 * The Lua scripts of the Redis transport. Every step that must be atomic is one script: Redis runs
 * a script alone, so no other client sees a half-done step (a message both dead-lettered and
 * queued, a key held by nobody while its next message waits, a delay promoted twice).
 *
 * Stream entries carry `m` (message id, type and body in one value, see `entry.ts`; `i`, `t` and
 * `b` in entries written before), and when set `h` (headers as JSON), `k` (partition key), `dc` (deliveries before this entry was written: a nacked message is
 * written again, and its count goes on) and `o` (the token with which a re-written message still
 * holds its key). An entry id is delivered once: a reclaim writes the message again under a new id
 * (see `fetch`), so a plain `XACK` of a reclaimed id acks nothing. A settle script names the
 * delivery by entry id, consumer and delivery count, and settles it only if the pending-entries
 * list still says so, so a settle arriving after the entry was reclaimed is ignored.
 *
 * @example
 * ```ts
 * const scripts = new Scripts(redis); // defines the commands on this ioredis client
 * await scripts.run('declare', [], [prefix, 'billing', '', 'shop.#']);
 * ```
 * @module
 */
import type { ChainableCommander, Redis } from 'ioredis';
import type { Abandon } from './abandon.js';
import { COMMON } from './lua-common.js';
import { LIVENESS, OWNER_SOURCES } from './scripts-owners.js';

/** The most idle entries one `fetch` writes again (the rest at the next call: a script blocks Redis while it runs). */
const RECLAIM_MAX = 1000;

/** Each script: its Lua source. Keys are passed where a script has fixed ones; others derive from the prefix (single Redis, not Cluster). */
const SOURCES = {
  /**
   * ARGV: prefix, queue, owner ('' = durable), '1' when ordered, now, topic patterns... Creates
   * the stream and its group; once ordered, a queue stays ordered. A pattern that is a command type
   * another queue owns is not bound (the queue lost it by a take-over). Returns {bindings added,
   * types not bound...}.
   */
  declare: `${COMMON}
local P, q = ARGV[1], ARGV[2]
if redis.call('HSETNX', P..'queues', q, ARGV[3]) == 1 then redis.call('HSETNX', P..'idle', q, ARGV[5]) end
if ARGV[4] == '1' then redis.call('SADD', P..'ordered', q) end
pcall(redis.call, 'XGROUP', 'CREATE', P..'q:'..q, G, '0', 'MKSTREAM')
local out = {0}
for i = 6, #ARGV do
  local owner = redis.call('HGET', P..'owners', ARGV[i])
  if owner and string.match(owner, '^([^\\t]*)') ~= q then out[#out + 1] = ARGV[i]
  else out[1] = out[1] + redis.call('SADD', P..'bindings', q..'\\t'..ARGV[i]) end
end
if out[1] > 0 then redis.call('INCR', P..'bver') end
return out`,

  /**
   * KEYS: version, the `batched` hash; ARGV: expected version, the batch packed with MessagePack
   * (`pack.ts`, `publish-batch.ts`): per entry, its stream, the messages it holds beyond one (a
   * batch entry's `M`), field count m, m fields. Counts those extra messages per stream in the
   * hash (the listing's depth counts messages). Nil when every entry was written, else the current
   * version (routes are stale; nothing was written).
   */
  publishBatch: `
local v = redis.call('GET', KEYS[1]) or '0'
if v ~= ARGV[1] then return v end
local a = cmsgpack.unpack(ARGV[2])
local i = 1
while i <= #a do
  local s, x, m = a[i], a[i + 1], a[i + 2]
  redis.call('XADD', s, '*', unpack(a, i + 3, i + 2 + m))
  if x > 0 then redis.call('HINCRBY', KEYS[2], s, x) end
  i = i + 3 + m
end
return false`,

  /** KEYS: queues hash, stream; ARGV: queue, fields... 1 when written, 0 when the queue does not exist. */
  send: `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
return 1`,

  /**
   * ARGV: prefix, expected version ('' = a send: the one queue must exist), due, scheduleId or '',
   * queue count n, n queues, fields... Returns 1, 0 (no such queue) or -1 (routes are stale).
   */
  schedule: `
local P, nq = ARGV[1], tonumber(ARGV[5])
if ARGV[2] == '' then
  if redis.call('HEXISTS', P..'queues', ARGV[6]) == 0 then return 0 end
elseif (redis.call('GET', P..'bver') or '0') ~= ARGV[2] then
  return -1
end
local fields = {}
for i = 6 + nq, #ARGV do fields[#fields + 1] = ARGV[i] end
for i = 6, 5 + nq do
  local q = ARGV[i]
  local rid = redis.call('INCR', P..'rid')
  local rk = P..'d:'..rid
  redis.call('HSET', rk, 'q', q, unpack(fields))
  if ARGV[4] ~= '' then
    redis.call('HSET', rk, 's', ARGV[4])
    redis.call('SADD', P..'s:'..ARGV[4], rid)
  end
  redis.call('ZADD', P..'delayed', ARGV[3], rid)
  redis.call('SADD', P..'dq:'..q, rid)
end
return 1`,

  /** ARGV: prefix, now, limit. Moves due delays into their queues; returns {moved, next due or -1}. */
  promote: `
local P = ARGV[1]
local due = redis.call('ZRANGEBYSCORE', P..'delayed', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, rid in ipairs(due) do
  local rk = P..'d:'..rid
  local rec = redis.call('HGETALL', rk)
  local q, s, fields = nil, nil, {}
  for j = 1, #rec, 2 do
    if rec[j] == 'q' then q = rec[j + 1] elseif rec[j] == 's' then s = rec[j + 1]
    else fields[#fields + 1] = rec[j]; fields[#fields + 1] = rec[j + 1] end
  end
  if q and #fields > 0 and redis.call('HEXISTS', P..'queues', q) == 1 then redis.call('XADD', P..'q:'..q, '*', unpack(fields)) end
  redis.call('DEL', rk)
  redis.call('ZREM', P..'delayed', rid)
  if q then redis.call('SREM', P..'dq:'..q, rid) end
  if s then redis.call('SREM', P..'s:'..s, rid) end
end
local nxt = redis.call('ZRANGE', P..'delayed', 0, 0, 'WITHSCORES')
return {#due, nxt[2] or '-1'}`,

  /** ARGV: prefix, scheduleId. Returns how many delayed copies were removed. */
  cancel: `
local P = ARGV[1]
local sk = P..'s:'..ARGV[2]
local n = 0
for _, rid in ipairs(redis.call('SMEMBERS', sk)) do
  local q = redis.call('HGET', P..'d:'..rid, 'q')
  n = n + redis.call('ZREM', P..'delayed', rid)
  redis.call('DEL', P..'d:'..rid)
  if q then redis.call('SREM', P..'dq:'..q, rid) end
end
redis.call('DEL', sk)
return n`,

  /**
   * KEYS: stream; ARGV: prefix, queue, consumer, room, claim idle ms (0 = no reclaim now), '1'
   * when the queue is ordered, now. Makes sure the consumer is in the group; with a reclaim,
   * deletes departed consumers that hold nothing, and writes every entry idle that long (its
   * consumer died) again as a new entry, with the deliveries made so far in `dc` and the token
   * that keeps its key in `o`, as a nack does (at most `RECLAIM_MAX` per call). An entry id is
   * therefore delivered once: a late ack of a reclaimed copy names an id that is no longer
   * pending, and `XACK` acks nothing. Then reads new entries (XREADGROUP); on an ordered queue
   * it takes each entry's partition key for it, or parks the entry behind the key's holder.
   * Returns {last-delivered-id or '', 1 when more idle entries are left to reclaim else 0,
   * {id, fields, delivery count}...}, or {'!gone'} when the queue was deleted.
   */
  fetch: `${COMMON}${LIVENESS}
local P, q, c = ARGV[1], ARGV[2], ARGV[3]
local s, room, locks = KEYS[1], tonumber(ARGV[4]), ARGV[1]..'l:'..ARGV[2]
if redis.call('HEXISTS', P..'queues', q) == 0 then return {'!gone'} end
if redis.call('EXISTS', s) == 0 then redis.call('XGROUP', 'CREATE', s, G, '0', 'MKSTREAM') end
redis.call('XGROUP', 'CREATECONSUMER', s, G, c)
local out = {'', 0}
local ordered = ARGV[6] == '1'
local function take(id, f, count)
  local k = ordered and field(f, 'k')
  if k then
    local token = field(f, 'o') or id
    local cur = redis.call('HGET', locks, k)
    if not cur then
      redis.call('HSET', locks, k, token)
    elseif cur ~= token then
      redis.call('RPUSH', P..'w:'..q..'|'..k, cmsgpack.pack(copy(f, {o = true})))
      redis.call('SADD', P..'wk:'..q, k)
      redis.call('XACK', s, G, id)
      redis.call('XDEL', s, id)
      return false
    end
  end
  out[#out + 1] = {id, f, count}
  return true
end
local idle = tonumber(ARGV[5])
if idle > 0 then
  consumers(P, q, s, tonumber(ARGV[7]), true)
  local start, moved = '0-0', 0
  repeat
    local r = redis.call('XAUTOCLAIM', s, G, c, idle, start, 'COUNT', 100)
    start = r[1]
    for _, e in ipairs(r[2]) do
      local id, f = e[1], e[2]
      local p = redis.call('XPENDING', s, G, id, id, 1)
      -- The claim counted as a delivery: the deliveries made are the count before it.
      -- A count written by something else (negative, not a number, a fraction) counts as none.
      local dc = tonumber(field(f, 'dc'))
      if not dc or dc ~= dc or dc < 0 or dc > 9007199254740991 or dc ~= math.floor(dc) then dc = 0 end
      local made = dc + (p[1] and p[1][4] or 1) - 1
      local list = f[1] == 'M' and members(f[2])
      if list then
        -- A batch entry is split: each message alone, with its count, so a message that crashes
        -- its consumer reaches maxDeliveries (and the dead letters) without its batch-mates. Those
        -- its consumer nacked or dead-lettered were written again already: not again. (One whose
        -- value is not in Missive's layout is written again whole, for its consumer to dead-letter.)
        local settled = redis.call('HGET', P..'bs:'..q, id)
        for i, mh in ipairs(list) do
          if not isSettled(settled, i) then redis.call('XADD', s, '*', unpack(single(mh[1], mh[2], made))) end
        end
        if settled then redis.call('HDEL', P..'bs:'..q, id) end
        if #list > 1 then uncount(P..'batched', s, #list - 1) end
        moved = moved + #list - 1
      else
        local g = copy(f, {dc = true, o = true})
        if made > 0 then g[#g + 1] = 'dc'; g[#g + 1] = tostring(made) end
        if field(f, 'k') then g[#g + 1] = 'o'; g[#g + 1] = field(f, 'o') or id end
        redis.call('XADD', s, '*', unpack(g))
      end
      redis.call('XACK', s, G, id)
      redis.call('XDEL', s, id)
      moved = moved + 1
    end
  until start == '0-0' or moved >= ${RECLAIM_MAX}
  if start ~= '0-0' then out[2] = 1 end
end
if room > 0 then
  local r = redis.call('XREADGROUP', 'GROUP', G, c, 'COUNT', room, 'STREAMS', s, '>')
  local n = 0
  if r then for _, e in ipairs(r[1][2]) do n = n + 1; take(e[1], e[2], 1) end end
  if n < room then
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', s)) do
      if field(g, 'name') == G then out[1] = field(g, 'last-delivered-id') end
    end
  end
end
return out`,

  /**
   * The acks of a batch holding a keyed delivery (others are plain `XACK` + `XDEL`).
   * KEYS: stream; ARGV: prefix, queue, consumer, stride (2, or 4 when any delivery is keyed), the
   * lowest and the highest entry id of the batch, then per delivery (id, count) or (id, count,
   * '=' .. key or '', token). Each delivery is checked against the pending-entries list, read once
   * for the batch's id range and this consumer (one call, not one per delivery). Returns how many
   * were acked.
   */
  ack: `${COMMON}
local P, q, c, s = ARGV[1], ARGV[2], ARGV[3], KEYS[1]
local stride = tonumber(ARGV[4])
local want = (#ARGV - 6) / stride * 2 + 32
local listed = redis.call('XPENDING', s, G, ARGV[5], ARGV[6], want, c)
local have = {}
for _, e in ipairs(listed) do have[e[1]] = e[4] end
local complete = #listed < want
local ids, keyed = {}, {}
for i = 7, #ARGV, stride do
  local id, count, ok = ARGV[i], tonumber(ARGV[i + 1]), false
  if have[id] ~= nil then ok = have[id] == count
  elseif not complete then ok = mine(s, c, id, count) end
  if ok then
    ids[#ids + 1] = id
    if stride == 4 and ARGV[i + 2] ~= '' then keyed[#keyed + 1] = i end
  end
end
for j = 1, #ids, 1000 do
  local last = math.min(j + 999, #ids)
  redis.call('XACK', s, G, unpack(ids, j, last))
  redis.call('XDEL', s, unpack(ids, j, last))
end
for _, i in ipairs(keyed) do release(P, q, string.sub(ARGV[i + 2], 2), ARGV[i + 3]) end
return #ids`,

  /**
   * KEYS: stream; ARGV: prefix, queue, consumer, id, count, delay ms, deliveries so far, headers
   * ('-' keeps them, '' clears them), token, now. Writes the message again (now or delayed) with
   * its count and, when keyed, the token that keeps its key. Returns 1, or 0 when no longer ours.
   */
  nack: `${COMMON}
local P, q, c, s, id = ARGV[1], ARGV[2], ARGV[3], KEYS[1], ARGV[4]
if not mine(s, c, id, ARGV[5]) then return 0 end
local e = redis.call('XRANGE', s, id, id)[1]
redis.call('XACK', s, G, id)
redis.call('XDEL', s, id)
if not e then return 0 end
local keep = ARGV[8] == '-'
local g = copy(e[2], {dc = true, o = true, h = not keep})
if not keep and ARGV[8] ~= '' then g[#g + 1] = 'h'; g[#g + 1] = ARGV[8] end
if tonumber(ARGV[7]) > 0 then g[#g + 1] = 'dc'; g[#g + 1] = ARGV[7] end
if field(g, 'k') then g[#g + 1] = 'o'; g[#g + 1] = ARGV[9] end
local delay = tonumber(ARGV[6])
if delay > 0 then
  local rid = redis.call('INCR', P..'rid')
  redis.call('HSET', P..'d:'..rid, 'q', q, unpack(g))
  redis.call('ZADD', P..'delayed', tonumber(ARGV[10]) + delay, rid)
  redis.call('SADD', P..'dq:'..q, rid)
else
  redis.call('XADD', s, '*', unpack(g))
end
return 1`,

  /** KEYS: stream; ARGV: prefix, queue, consumer, id, count, '=' .. key or '', token, failure JSON. Returns 1, or 0 when no longer ours. */
  deadLetter: `${COMMON}
local P, q, c, s, id = ARGV[1], ARGV[2], ARGV[3], KEYS[1], ARGV[4]
if not mine(s, c, id, ARGV[5]) then return 0 end
local e = redis.call('XRANGE', s, id, id)[1]
if e then
  local g = copy(e[2], {dc = true, o = true})
  local mid = messageId(g)
  -- An entry written by something else may hold no message id: its entry id stands for it (the consumer reads it so too).
  if not mid or mid == '' then mid = id; g[#g + 1] = 'i'; g[#g + 1] = id end
  g[#g + 1] = 'f'; g[#g + 1] = ARGV[8]
  local dl = redis.call('XADD', P..'dl:'..q, '*', unpack(g))
  redis.call('HSET', P..'dli:'..q, mid, dl)
end
redis.call('XACK', s, G, id)
redis.call('XDEL', s, id)
if ARGV[6] ~= '' then release(P, q, string.sub(ARGV[6], 2), ARGV[7]) end
return 1`,

  /**
   * The acks of a batch holding a batch entry. KEYS: stream, the `batched` hash, the queue's
   * settled-members hash; ARGV: per entry, (id, messages it holds beyond one). `XACK` tells whether
   * each id was still pending (a reclaimed id is not: nothing happens to it); each acked id is
   * deleted, its extra messages taken off the stream's count and its settled members forgotten.
   * Returns how many were acked.
   */
  ackEntries: `${COMMON}
local s, n, extra = KEYS[1], 0, 0
local settled = redis.call('EXISTS', KEYS[3]) == 1
for i = 1, #ARGV, 2 do
  if redis.call('XACK', s, G, ARGV[i]) == 1 then
    redis.call('XDEL', s, ARGV[i])
    if settled then redis.call('HDEL', KEYS[3], ARGV[i]) end
    n = n + 1
    extra = extra + tonumber(ARGV[i + 1])
  end
end
if extra > 0 then uncount(KEYS[2], s, extra) end
return n`,

  /**
   * A nack of one message of a batch entry: writes it again as an entry of its own (now or
   * delayed), and leaves the batch entry to be acked once all its messages are settled; records
   * the message as settled in its entry (the listing no longer counts it in flight, a reclaim of
   * the entry does not write it again, a nack sent twice writes it once). KEYS: stream; ARGV:
   * prefix, queue, consumer, batch entry id, its count, delay ms, deliveries so far, the message's
   * `m` value, its headers JSON ('' none), now, its position in the entry (from 1). Returns 1, or
   * 0 when no longer ours.
   */
  nackMember: `${COMMON}
local P, q, c, s = ARGV[1], ARGV[2], ARGV[3], KEYS[1]
if not mine(s, c, ARGV[4], ARGV[5]) then return 0 end
if not settleMember(P, q, ARGV[4], ARGV[11]) then return 1 end
local g = single(ARGV[8], ARGV[9], ARGV[7])
local delay = tonumber(ARGV[6])
if delay > 0 then
  local rid = redis.call('INCR', P..'rid')
  redis.call('HSET', P..'d:'..rid, 'q', q, unpack(g))
  redis.call('ZADD', P..'delayed', tonumber(ARGV[10]) + delay, rid)
  redis.call('SADD', P..'dq:'..q, rid)
else
  redis.call('XADD', s, '*', unpack(g))
end
return 1`,

  /**
   * A dead-letter of one message of a batch entry (the batch entry is acked once all its messages
   * are settled), recorded as settled in its entry as a nack is. KEYS: stream; ARGV: prefix,
   * queue, consumer, batch entry id, its count, the message's `m` value, its headers JSON ('' none),
   * failure JSON, its position in the entry (from 1). Returns 1, or 0 when no longer ours.
   */
  deadLetterMember: `${COMMON}
local P, q, c, s = ARGV[1], ARGV[2], ARGV[3], KEYS[1]
if not mine(s, c, ARGV[4], ARGV[5]) then return 0 end
if not settleMember(P, q, ARGV[4], ARGV[9]) then return 1 end
local g = single(ARGV[6], ARGV[7], 0)
g[#g + 1] = 'f'; g[#g + 1] = ARGV[8]
local dl = redis.call('XADD', P..'dl:'..q, '*', unpack(g))
redis.call('HSET', P..'dli:'..q, messageId(g), dl)
return 1`,

  /** KEYS: stream; ARGV: consumer, then (id, count) pairs. Resets the idle time of the deliveries still ours. */
  touch: `${COMMON}
local s, c, ids = KEYS[1], ARGV[1], {}
for i = 2, #ARGV, 2 do
  if mine(s, c, ARGV[i], ARGV[i + 1]) then ids[#ids + 1] = ARGV[i] end
end
local n = #ids
if n > 0 then
  ids[n + 1] = 'JUSTID'
  redis.call('XCLAIM', s, G, c, 0, unpack(ids))
end
return n`,

  /** ARGV: prefix, queue, message id, headers JSON or ''. Moves one dead letter back to the end of its queue; returns 1 or 0. */
  replay: `${COMMON}
local P, q = ARGV[1], ARGV[2]
if redis.call('HEXISTS', P..'queues', q) == 0 then return 0 end
local dlid = redis.call('HGET', P..'dli:'..q, ARGV[3])
if not dlid then return 0 end
redis.call('HDEL', P..'dli:'..q, ARGV[3])
local e = redis.call('XRANGE', P..'dl:'..q, dlid, dlid)[1]
if not e then return 0 end
local g = copy(e[2], {h = true, f = true})
if ARGV[4] ~= '' then g[#g + 1] = 'h'; g[#g + 1] = ARGV[4] end
redis.call('XADD', P..'q:'..q, '*', unpack(g))
redis.call('XDEL', P..'dl:'..q, dlid)
return 1`,

  /** ARGV: prefix, queue, message id. Deletes one dead letter; returns 1 or 0. */
  purge: `
local P, q = ARGV[1], ARGV[2]
local dlid = redis.call('HGET', P..'dli:'..q, ARGV[3])
if not dlid then return 0 end
redis.call('HDEL', P..'dli:'..q, ARGV[3])
return redis.call('XDEL', P..'dl:'..q, dlid)`,

  /** ARGV: prefix, queue. Deletes the queue with its messages, delays, waiting lists, dead letters and bindings. */
  drop: `${COMMON}
return drop(ARGV[1], ARGV[2])`,

  /** ARGV: prefix. Deletes the temporary queues whose owning connection is gone; returns how many. */
  reap: `${COMMON}
local P, n = ARGV[1], 0
local all = redis.call('HGETALL', P..'queues')
for j = 1, #all, 2 do
  local owner = all[j + 1]
  if owner ~= '' and redis.call('EXISTS', P..'conn:'..owner) == 0 then n = n + drop(P, all[j]) end
end
return n`,

  ...OWNER_SOURCES,
} as const;

/** The name of a script. */
export type ScriptName = keyof typeof SOURCES;

type Arg = string | number | Buffer | Uint8Array;
type Command = (...args: Arg[]) => Promise<unknown>;

/**
 * Defines one script on another client (a consumer's reading connection, which sends its acks
 * with its reads) and returns how to call it (replies as strings). Only the one script: ioredis
 * copies every script defined on a client into each pipeline it makes.
 */
export function defineScript(redis: Redis, name: ScriptName): (keys: readonly string[], args: readonly Arg[]) => Promise<unknown> {
  redis.defineCommand(`missive_${name}`, { lua: SOURCES[name] });
  const command = (redis as unknown as Record<string, Command>)[`missive_${name}`]!;
  return (keys, args) => command.call(redis, keys.length, ...keys, ...args);
}

/** The scripts, defined on one ioredis client (ioredis runs EVALSHA and falls back to EVAL after a restart). */
export class Scripts {
  private readonly commands: Record<string, Command>;

  /** `abandon`: once fired, a call still waiting rejects (see `abandon.ts`). */
  constructor(
    redis: Redis,
    private readonly abandon?: Abandon,
  ) {
    for (const [name, lua] of Object.entries(SOURCES)) redis.defineCommand(`missive_${name}`, { lua });
    this.commands = redis as unknown as Record<string, Command>;
  }

  /** Runs a script; replies as strings. */
  run(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    const reply = this.commands[`missive_${name}`]!.call(this.commands, keys.length, ...keys, ...args);
    return this.abandon === undefined ? reply : this.abandon.race(reply);
  }

  /** Adds a script call to a pipeline of the client these scripts were defined on (replies as strings). */
  queue(pipeline: ChainableCommander, name: ScriptName, keys: readonly string[], args: readonly Arg[]): void {
    void (pipeline as unknown as Record<string, (...args: Arg[]) => unknown>)[`missive_${name}`]!.call(
      pipeline,
      keys.length,
      ...keys,
      ...args,
    );
  }

  /** Runs a script; bulk replies as Buffers (for message bodies). */
  runBuffer(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    const reply = this.commands[`missive_${name}Buffer`]!.call(this.commands, keys.length, ...keys, ...args);
    return this.abandon === undefined ? reply : this.abandon.race(reply);
  }
}
