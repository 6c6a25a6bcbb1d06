-- wrk script: a chain of refresh-token rotations. Each response carries the
-- next refresh token, which the next request presents (one chain per
-- connection; a rotation is spent exactly once, as a client would).
local tokens = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  rt = os.getenv("RT_" .. id) or os.getenv("RT")
  failures = 0
end

request = function()
  return wrk.format("POST", "/v1/token", {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=refresh_token&refresh_token=" .. rt)
end

response = function(status, headers, body)
  if status == 200 then
    local n = body:match('"refresh_token":"([^"]+)"')
    if n then rt = n end
  else
    failures = failures + 1
  end
end
