-- wrk script for the policies run (scripts/bench.sh): like ../shared/bench/post.lua (json mode, same
-- messages), but every request's user message ends with a counter, so an exact cache never finds it:
-- each request pays the cache lookup on a miss (and the write after it), as a real workload of
-- distinct prompts does. Env: BENCH_MODEL. Prints the harness's "RESULT k=v ..." line.
local model = os.getenv("BENCH_MODEL")
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.path = wrk.path:gsub("/$", "") .. "/v1/chat/completions"

function request()
  n = n + 1
  local body = string.format(
    '{"model":"%s","messages":[{"role":"system","content":"You are a helpful assistant."},' ..
    '{"role":"user","content":"Write a haiku about load balancers. #%d-%d"}],"max_tokens":64,"temperature":0.2}',
    model, os.time(), n)
  return wrk.format(nil, nil, nil, body)
end

function done(s, lat, req)
  local e, secs = s.errors, s.duration / 1e6
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f reqs=%d non2xx=%d sockerr=%d timeouts=%d\n",
    s.requests / secs, lat:percentile(50) / 1e3, lat:percentile(90) / 1e3, lat:percentile(99) / 1e3,
    lat.max / 1e3, s.requests, e.status, e.connect + e.read + e.write, e.timeout))
end
