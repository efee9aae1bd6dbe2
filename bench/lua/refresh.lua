-- refresh_token grant with rotation: every request presents a fresh refresh token, taken
-- from a pool file (one token a line). Thread k of n uses lines k, k+n, k+2n, ...
-- Arguments after "--": pool file, client_id, number of threads. A client_id of "-" means
-- each line is a whole request body (e.g. an authorization code redemption).
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

function init(args)
  local path, client_id, n = args[1], args[2], tonumber(args[3])
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  reqs, used, exhausted = {}, 0, false
  local i = 0
  for line in io.lines(path) do
    if i % n == tid and line ~= "" then
      local body = line
      if client_id ~= "-" then
        body = "grant_type=refresh_token&client_id=" .. client_id .. "&refresh_token=" .. line
      end
      reqs[#reqs + 1] = wrk.format("POST", nil, headers, body)
    end
    i = i + 1
  end
end

function request()
  if used >= #reqs then
    -- Out of fresh tokens: stop this thread rather than replay a rotated-out one.
    if not exhausted then
      exhausted = true
      wrk.thread:stop()
    end
    return reqs[#reqs]
  end
  used = used + 1
  return reqs[used]
end
