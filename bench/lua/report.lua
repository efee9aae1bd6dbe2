-- Appended to every case script: prints one machine-readable line for bench/loadgen.py.
local bench_threads = {}
local case_setup = setup

function setup(thread)
  bench_threads[#bench_threads + 1] = thread
  if case_setup then
    case_setup(thread)
  end
end

function done(summary, latency, requests)
  local used, exhausted = 0, false
  for _, thread in ipairs(bench_threads) do
    used = math.max(used, thread:get("used") or 0)
    if thread:get("exhausted") then
      exhausted = true
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"threads":%d,"max_used_per_thread":%d,"exhausted":%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status,
    e.timeout, #bench_threads, used, tostring(exhausted)))
end
