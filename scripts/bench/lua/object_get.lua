-- GET a random one of the $OBJ_COUNT objects g-0 .. g-(N-1) under $OBJ_PATH; $OBJ_TOKEN authenticates.
local base = os.getenv("OBJ_PATH")
local count = tonumber(os.getenv("OBJ_COUNT") or "2000")
local headers = { ["X-Auth-Token"] = os.getenv("OBJ_TOKEN") }
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  math.randomseed(os.time() * 31 + tid)
end
function request()
  return wrk.format("GET", string.format("%s/g-%d", base, math.random(0, count - 1)), headers)
end
