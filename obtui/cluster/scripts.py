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

# KEYS: files, jobs, stats, buckets, seen
# ARGV: field, queued_json, bucket, rel, sha, size, host, kind, stat field ('' for none)
ENQUEUE = """
if ARGV[9] ~= '' then redis.call('HSET', KEYS[5], ARGV[9], ARGV[5]) end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return false end
local id = redis.call('XADD', KEYS[2], '*', 'bucket', ARGV[3], 'rel', ARGV[4], 'sha', ARGV[5],
                      'size', ARGV[6], 'by', ARGV[7], 'kind', ARGV[8])
redis.call('HINCRBY', KEYS[3], 'enqueued', 1)
redis.call('SADD', KEYS[4], ARGV[3])
return id
"""

# Right before running a file. KEYS: jobs, files  ARGV: group, me, id, field, now
# -> {1, deliveries} go; {2, n} an outcome exists (acked, skip); {0, n} not ours; {-1, 0} gone.
BEGIN = (
    _FINAL
    + _OWNER
    + """
local cur = redis.call('HGET', KEYS[2], ARGV[4])
if final(cur) then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3]); redis.call('XDEL', KEYS[1], ARGV[3])
  return {2, p[1][4]}
end
local o = {}
if cur then local ok, d = pcall(cjson.decode, cur); if ok then o = d end end
o.state = 'queued'; o.host = ARGV[2]; o.attempt = p[1][4]; o.started = ARGV[5]
o.begins = (tonumber(o.begins) or 0) + 1  -- deliveries that actually started running
redis.call('HSET', KEYS[2], ARGV[4], cjson.encode(o))
return {1, p[1][4]}
"""
)

# The one commit of an outcome. KEYS: jobs, files, outcomes, stats
# ARGV: group, me, id, field, json, state, bucket
# -> 1 committed; 2 an outcome was already there (acked, nothing written); 0 lease lost; -1 not
# pending any more (a retried FINISH whose first try committed, or another host finished it).
FINISH = (
    _FINAL
    + _OWNER
    + """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3]); redis.call('XDEL', KEYS[1], ARGV[3])
if final(redis.call('HGET', KEYS[2], ARGV[4])) then return {2, p[1][4]} end
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
if ARGV[6] == 'skipped' then return {1, p[1][4]} end  -- no rule took it here: final, not counted
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 100000, '*', 'bucket', ARGV[7], 'k', ARGV[4], 'v', ARGV[5])
redis.call('HINCRBY', KEYS[4], ARGV[6], 1)
return {1, p[1][4]}
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
