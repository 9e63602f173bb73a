// Lua scripts of RedisStore: each runs atomically inside Redis (EVALSHA via
// ioredis defineCommand), so two nodes racing for the last slot of a user or
// the same address cannot both win.
//
// Keys (P = "{prefix}:", one hash tag, so Redis Cluster keeps them all in one
// slot and the scripts may touch keys they compute, such as lease:N):
//   P s:<sid>          hash: id ck user groups group lease createdAt peer app owner
//   P ck:<digest>      string: sid (digest = SHA-256 of the cookie, base64)
//   P lease:<n>        string: sid (SET NX: no address leased twice)
//   P lease-cursor:<first>-<end>  string: where the next search of that lease range starts
//                      (one per range: the whole pool, each group's pool)
//   P all              zset: sid -> expiry (ms)      (max-clients)
//   P users:<user>     zset: sid -> expiry (ms)      (max-same-clients)
//   P owned:<node>     set: sids the node serves (its heartbeat refreshes them)
//   P node:<node>      string with TTL: the node is alive
//   P bans             zset: prefix -> until (ms, +inf = until unbanned)
//   P ban-notes        hash: prefix -> reason
//   P pts:<address>    integer with TTL: ban points of failed logins
// A session's keys share one time-to-live (cookie-timeout + node TTL),
// renewed by its owner's heartbeat: when a node dies, its sessions stay
// claimable by cookie for that long and then vanish with their leases.
// Time comes from Redis (TIME), so nodes' clocks need not agree.

/** Milliseconds from Redis's own clock. */
const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Renews one session's keys for `ttl` ms when `me` owns it; false (and forgotten by `me`) otherwise. */
const REFRESH_FN = `
local function refresh(P, sid, me, ttl, now)
  local skey = P .. 's:' .. sid
  local h = redis.call('HMGET', skey, 'owner', 'ck', 'lease', 'user')
  if h[1] ~= me then return false end
  redis.call('PEXPIRE', skey, ttl)
  redis.call('PEXPIRE', P .. 'ck:' .. h[2], ttl)
  local lk = P .. 'lease:' .. h[3]
  if redis.call('GET', lk) == sid then redis.call('PEXPIRE', lk, ttl) end
  redis.call('ZADD', P .. 'all', now + ttl, sid)
  local uk = P .. 'users:' .. h[4]
  redis.call('ZADD', uk, now + ttl, sid)
  redis.call('PEXPIRE', uk, ttl)
  return true
end
`;

/**
 * KEYS: all, users:<user>, ck:<digest>, s:<sid>, owned:<me>
 * ARGV: P, sid, ttl, maxClients, maxSameClients, leaseFirst, leaseEnd, me, then hash field/value pairs.
 * Returns {'ok', lease} or {outcome}.
 */
export const CREATE_SESSION = `
local P, sid, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local maxClients, maxSame = tonumber(ARGV[4]), tonumber(ARGV[5])
local first, last = tonumber(ARGV[6]), tonumber(ARGV[7])
local me = ARGV[8]
${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if maxClients > 0 and redis.call('ZCARD', KEYS[1]) >= maxClients then return {'max_clients'} end
if maxSame > 0 and redis.call('ZCARD', KEYS[2]) >= maxSame then return {'max_same_clients'} end
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then return {'duplicate'} end
local span = last - first
if span <= 0 then return {'no_lease'} end
local ckey = P .. 'lease-cursor:' .. first .. '-' .. last
local cur = tonumber(redis.call('GET', ckey) or first)
if cur == nil or cur < first or cur >= last then cur = first end
local lease = nil
for i = 0, span - 1 do
  local n = first + ((cur - first + i) % span)
  if redis.call('SET', P .. 'lease:' .. n, sid, 'NX', 'PX', ttl) then lease = n; break end
end
if lease == nil then return {'no_lease'} end
if span > 1 then redis.call('SET', ckey, lease + 1) end
for i = 9, #ARGV, 2 do redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[4], 'lease', lease, 'owner', me)
redis.call('PEXPIRE', KEYS[4], ttl)
redis.call('SET', KEYS[3], sid, 'PX', ttl)
redis.call('ZADD', KEYS[1], now + ttl, sid)
redis.call('ZADD', KEYS[2], now + ttl, sid)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('SADD', KEYS[5], sid)
return {'ok', lease}
`;

/**
 * KEYS: ck:<digest>
 * ARGV: P, me, ttl, channel
 * Returns false, or {previousOwner, previousAlive (0/1), field, value, ...}.
 * A live previous owner is told (PUBLISH) to drop the session.
 */
export const CLAIM_SESSION = `
${REFRESH_FN}
local P, me, ttl, channel = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local sid = redis.call('GET', KEYS[1])
if not sid then return false end
local skey = P .. 's:' .. sid
local old = redis.call('HGET', skey, 'owner')
if not old then return false end
local lease = redis.call('HGET', skey, 'lease')
local holder = redis.call('GET', P .. 'lease:' .. lease)
if holder and holder ~= sid then return false end
if not holder then redis.call('SET', P .. 'lease:' .. lease, sid, 'PX', ttl) end
${NOW}
redis.call('HSET', skey, 'owner', me)
if old ~= me then redis.call('SREM', P .. 'owned:' .. old, sid) end
redis.call('SADD', P .. 'owned:' .. me, sid)
refresh(P, sid, me, ttl, now)
local alive = redis.call('EXISTS', P .. 'node:' .. old)
if old ~= me and alive == 1 then
  redis.call('PUBLISH', channel, cjson.encode({type = 'drop', sessionId = sid, owner = old, from = me}))
end
local out = {old, alive}
local h = redis.call('HGETALL', skey)
for i = 1, #h do out[#out + 1] = h[i] end
return out
`;

/**
 * KEYS: s:<sid>
 * ARGV: P, me, sid
 * Returns 1 when the session was ours and is gone, 0 otherwise.
 */
export const END_SESSION = `
local P, me, sid = ARGV[1], ARGV[2], ARGV[3]
local h = redis.call('HMGET', KEYS[1], 'owner', 'ck', 'lease', 'user')
if h[1] ~= me then return 0 end
redis.call('DEL', KEYS[1])
redis.call('DEL', P .. 'ck:' .. h[2])
local lk = P .. 'lease:' .. h[3]
if redis.call('GET', lk) == sid then redis.call('DEL', lk) end
redis.call('ZREM', P .. 'all', sid)
redis.call('ZREM', P .. 'users:' .. h[4], sid)
redis.call('SREM', P .. 'owned:' .. me, sid)
return 1
`;

/**
 * KEYS: node:<me>, owned:<me>
 * ARGV: P, me, nodeTtl, sessionTtl
 * Marks the node alive and renews every session it owns.
 */
export const HEARTBEAT = `
${REFRESH_FN}
local P, me, nodeTtl, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
${NOW}
redis.call('SET', KEYS[1], '1', 'PX', nodeTtl)
local sids = redis.call('SMEMBERS', KEYS[2])
for _, sid in ipairs(sids) do
  if not refresh(P, sid, me, ttl, now) then redis.call('SREM', KEYS[2], sid) end
end
if #sids > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return #sids
`;

/**
 * KEYS: s:<sid>
 * ARGV: P, me, ttl, sid, digest, lease, user, then hash field/value pairs.
 * Writes back a session this node serves (the store lost it); 0 when its
 * address or the session now belongs to someone else.
 */
export const RESTORE_SESSION = `
local P, me, ttl, sid, digest, lease, user = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= me then return 0 end
local lk = P .. 'lease:' .. lease
local holder = redis.call('GET', lk)
if holder and holder ~= sid then return 0 end
${NOW}
redis.call('SET', lk, sid, 'PX', ttl)
for i = 8, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'lease', lease, 'owner', me)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', P .. 'ck:' .. digest, sid, 'PX', ttl)
redis.call('ZADD', P .. 'all', now + ttl, sid)
redis.call('ZADD', P .. 'users:' .. user, now + ttl, sid)
redis.call('PEXPIRE', P .. 'users:' .. user, ttl)
redis.call('SADD', P .. 'owned:' .. me, sid)
return 1
`;

/**
 * KEYS: bans, ban-notes
 * ARGV: prefix, until ('+inf' or ms), reason ('' = none), channel, message
 */
export const BAN = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if ARGV[3] == '' then redis.call('HDEL', KEYS[2], ARGV[1]) else redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`;

/**
 * KEYS: bans, ban-notes, pts:<address>
 * ARGV: prefix, channel, message
 * Returns 1 when there was a ban list entry.
 */
export const UNBAN = `
local had = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return had
`;

/**
 * KEYS: bans, ban-notes
 * Returns {prefix, until, reason-or-'', ...} of the bans in force (expired ones are dropped).
 */
export const LIST_BANS = `
${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local z = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #z, 2 do
  out[#out + 1] = z[i]
  out[#out + 1] = z[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], z[i]) or ''
end
return out
`;

/**
 * KEYS: pts:<address>
 * ARGV: points, windowMs
 */
export const ADD_POINTS = `
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
`;
