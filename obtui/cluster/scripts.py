"""The Lua scripts of the protocol. Each runs atomically on the Redis server; the PEL entry of
the consumer group is the lease, and every script that writes an outcome checks that this host
still owns it (the fence).
"""

from __future__ import annotations

# The owner check shared by the fenced scripts: -1 when the entry is no longer pending (acked by
# someone), 0 when another consumer owns it now (our lease was lost).
_OWNER = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 then return {-1, 0} end
if p[1][2] ~= ARGV[2] then return {0, p[1][4]} end
"""

_FINAL = """
local function final(cur)
  if not cur then return false end
  local ok, o = pcall(cjson.decode, cur)
  return ok and o.state ~= 'queued'
end
"""

# The batched forms: one round trip for N files of one bucket, each checked on its own (a file
# whose lease was lost is refused; the others still go through).
# KEYS: files, jobs, stats, buckets, seen
# ARGV: queued_json, bucket, host, then per file: field, rel, sha, size, kind, stat field
# -> per file the stream id, or false when it was already queued or done.
ENQUEUE_MANY = """
local out = {}
local added = 0
for i = 4, #ARGV, 6 do
  if ARGV[i + 5] ~= '' then redis.call('HSET', KEYS[5], ARGV[i + 5], ARGV[i + 2]) end
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[1]) == 0 then
    table.insert(out, false)
  else
    table.insert(out, redis.call('XADD', KEYS[2], '*', 'bucket', ARGV[2], 'rel', ARGV[i + 1],
                                 'sha', ARGV[i + 2], 'size', ARGV[i + 3], 'by', ARGV[3], 'kind', ARGV[i + 4]))
    added = added + 1
  end
end
if added > 0 then
  redis.call('HINCRBY', KEYS[3], 'enqueued', added)
  redis.call('SADD', KEYS[4], ARGV[2])
end
return out
"""

_OWNER_OF = """
local function owner(id)
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if #p == 0 then return -1, 0 end
  if p[1][2] ~= ARGV[2] then return 0, p[1][4] end
  return 1, p[1][4]
end
"""

# BEGIN for N files. KEYS: jobs, files  ARGV: group, me, now, then per file: id, field
# -> per file {code, deliveries} as BEGIN answers.
BEGIN_MANY = (
    _FINAL
    + _OWNER_OF
    + """
local out = {}
for i = 4, #ARGV, 2 do
  local id, field = ARGV[i], ARGV[i + 1]
  local mine, n = owner(id)
  if mine ~= 1 then
    table.insert(out, {mine, n})
  else
    local cur = redis.call('HGET', KEYS[2], field)
    if final(cur) then
      redis.call('XACK', KEYS[1], ARGV[1], id); redis.call('XDEL', KEYS[1], id)
      table.insert(out, {2, n})
    else
      local o = {}
      if cur then local ok, d = pcall(cjson.decode, cur); if ok then o = d end end
      o.state = 'queued'; o.host = ARGV[2]; o.attempt = n; o.started = ARGV[3]
      o.begins = (tonumber(o.begins) or 0) + 1
      redis.call('HSET', KEYS[2], field, cjson.encode(o))
      table.insert(out, {1, n})
    end
  end
end
return out
"""
)

# FINISH for N outcomes, each fenced on its own. KEYS: jobs, files, outcomes, stats
# ARGV: group, me, bucket, then per outcome: id, field, json, state
# -> per outcome {code, deliveries} as FINISH answers.
FINISH_MANY = (
    _FINAL
    + _OWNER_OF
    + """
local out = {}
for i = 4, #ARGV, 4 do
  local id, field, v, state = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local mine, n = owner(id)
  if mine ~= 1 then
    table.insert(out, {mine, n})
  else
    redis.call('XACK', KEYS[1], ARGV[1], id); redis.call('XDEL', KEYS[1], id)
    if final(redis.call('HGET', KEYS[2], field)) then
      table.insert(out, {2, n})
    else
      redis.call('HSET', KEYS[2], field, v)
      if state ~= 'skipped' then
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', 100000, '*', 'bucket', ARGV[3], 'k', field, 'v', v)
        redis.call('HINCRBY', KEYS[4], state, 1)
      end
      table.insert(out, {1, n})
    end
  end
end
return out
"""
)

# Keep files alive while they wait or run here. KEYS: jobs  ARGV: group, me, id...
# XCLAIM ... JUSTID resets the idle time without counting a delivery. -> the ids we lost.
RENEW = """
local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p == 0 or p[1][2] ~= ARGV[2] then
    table.insert(lost, ARGV[i])
  else
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  end
end
return lost
"""

# Hand entries back at a clean stop: still ours -> idle set to the lease, so any host's next
# reclaim takes them at once instead of after the lease. KEYS: jobs  ARGV: group, me, idle, id...
HAND_BACK = """
local n = 0
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p == 1 and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    n = n + 1
  end
end
return n
"""

# Dead-letter a file delivered too often. KEYS: jobs, files, dlq, stats, outcomes
# ARGV: group, me, id, field, json, state(unused), bucket, rel, sha, size, deliveries, reason,
#       previous owner (the last host, unless one began running it), kind
DEAD = (
    _FINAL
    + _OWNER
    + """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3]); redis.call('XDEL', KEYS[1], ARGV[3])
local cur = redis.call('HGET', KEYS[2], ARGV[4])
if final(cur) then return {2, p[1][4]} end
local last = ARGV[13]
if cur then local ok, d = pcall(cjson.decode, cur); if ok and d.host then last = d.host end end
local o = cjson.decode(ARGV[5]); o.last_host = last
local v = cjson.encode(o)
redis.call('HSET', KEYS[2], ARGV[4], v)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'bucket', ARGV[7], 'rel', ARGV[8], 'sha', ARGV[9],
           'size', ARGV[10], 'kind', ARGV[14], 'deliveries', ARGV[11], 'last_host', last, 'last_error', ARGV[12],
           'src', ARGV[3], 'ts', o.ts or '')
redis.call('XADD', KEYS[5], 'MAXLEN', '~', 100000, '*', 'bucket', ARGV[7], 'k', ARGV[4], 'v', v)
redis.call('HINCRBY', KEYS[4], 'dead', 1)
return {1, p[1][4]}
"""
)

# Put a dead-lettered file back. KEYS: dlq, files, jobs, stats  ARGV: dlq id, queued_json, host
# -> the new stream id, or false when the dead-letter entry is gone.
DLQ_RETRY = """
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return false end
local f = {}
for i = 1, #e[1][2], 2 do f[e[1][2][i]] = e[1][2][i + 1] end
redis.call('HSET', KEYS[2], f.rel .. '\\0' .. f.sha, ARGV[2])
local id = redis.call('XADD', KEYS[3], '*', 'bucket', f.bucket, 'rel', f.rel, 'sha', f.sha,
                      'size', f.size or '0', 'by', ARGV[3], 'kind', f.kind or 'file')
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[4], 'dead', -1)
redis.call('HINCRBY', KEYS[4], 'retried', 1)
return id
"""
