-- PUT a 4 KiB object under a new name per request into $OBJ_PATH (/v1/<account>/<container>),
-- names $OBJ_TAG-<thread>-<n>; $OBJ_TOKEN authenticates.
local base = os.getenv("OBJ_PATH")
local tag = os.getenv("OBJ_TAG") or "p"
local body = string.rep("x", 4096)
local headers = { ["X-Auth-Token"] = os.getenv("OBJ_TOKEN"), ["Content-Type"] = "application/octet-stream" }
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
function request()
  n = n + 1
  return wrk.format("PUT", string.format("%s/%s-%d-%d", base, tag, tid, n), headers, body)
end
