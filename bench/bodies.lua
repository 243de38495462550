-- wrk script: POST one line of BODIES_FILE per request (each form body used once), with HTTP
-- Basic client auth (env BASIC). For grants whose input is single-use: authorization codes and
-- rotating refresh tokens. Seed at least (expected req/s x duration) lines; when the lines run
-- out the script starts over and prints "bodies exhausted" (reused codes are refused, counted as
-- non-2xx; a refresh token reused within the retry window gets its pair again, a 200).
-- With BENCH_PHASE set (bench/run.sh sets warmup, run1, run2, ...), the file is
-- BODIES_FILE.BENCH_PHASE: each wrk run consumes its own bodies.
local file, phase = os.getenv("BODIES_FILE"), os.getenv("BENCH_PHASE")
if phase and phase ~= "" then file = file .. "." .. phase end
local bodies, i = {}, 0
for line in io.lines(file) do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
local basic = os.getenv("BASIC")
if basic and basic ~= "" then wrk.headers["Authorization"] = "Basic " .. basic end
local warned = false
request = function()
  if i == #bodies and not warned then
    -- A reused refresh token within the retry window still answers 200 (the same pair), so
    -- non-2xx counting alone cannot see it: say so, and bench/run.sh fails the run.
    io.write("bodies exhausted: single-use bodies were sent again\n")
    warned = true
  end
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
