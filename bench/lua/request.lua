-- One fixed request, built once: method and an optional body file from the arguments
-- after "--" (headers come from wrk's -H options).
function init(args)
  wrk.method = args[1] or "GET"
  if args[2] and args[2] ~= "" then
    local f = assert(io.open(args[2], "rb"))
    wrk.body = f:read("*a")
    f:close()
  end
  used, exhausted = 0, false
  req = wrk.format()
end

function request()
  used = used + 1
  return req
end
