-- wrk script: POST one line of BODIES_FILE per request (each form body used once), with HTTP
-- Basic client auth (env BASIC). For grants whose input is single-use: authorization codes and
-- rotating refresh tokens. Seed at least (expected req/s x duration) lines; when the lines run
-- out the script starts over, and the reused ones are refused (counted as non-2xx).
local bodies, i = {}, 0
for line in io.lines(os.getenv("BODIES_FILE")) do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
local basic = os.getenv("BASIC")
if basic and basic ~= "" then wrk.headers["Authorization"] = "Basic " .. basic end
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
