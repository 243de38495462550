-- wrk script: POST a form body (env BODY) with HTTP Basic client auth (env BASIC, base64 of
-- client_id:client_secret). The same request shape as the peers' post.lua.
wrk.method = "POST"
wrk.body = os.getenv("BODY") or ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
local basic = os.getenv("BASIC")
if basic and basic ~= "" then
  wrk.headers["Authorization"] = "Basic " .. basic
end
