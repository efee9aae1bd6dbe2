-- One fixed request at a fixed total rate (an open schedule, not "as fast as it goes"):
-- arguments after "--": method, body file, requests per second in all, number of threads.
-- Each thread takes rate/threads; every request gets the next slot of its thread's schedule
-- and wrk's delay() holds it until then, so a slow answer does not lower the offered rate
-- while connections are free (16 connections at 500/s leave each ~32 ms between requests).
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } bench_timeval;
  int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")

local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

function init(args)
  wrk.method = args[1] or "GET"
  if args[2] and args[2] ~= "" then
    local f = assert(io.open(args[2], "rb"))
    wrk.body = f:read("*a")
    f:close()
  end
  local rate, threads = tonumber(args[3]), tonumber(args[4])
  interval = 1000 * threads / rate -- ms between this thread's requests
  used, exhausted = 0, false
  next_slot = nil
  req = wrk.format()
end

function delay()
  local t = now_ms()
  if next_slot == nil or next_slot < t - 1000 then
    next_slot = t -- start, or more than a second behind: do not burst to catch up
  end
  local slot = next_slot
  next_slot = slot + interval
  return math.max(0, math.floor(slot - t))
end

function request()
  used = used + 1
  return req
end
