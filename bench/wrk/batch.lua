-- BatchPutCustomConnectorDocuments: 1000 new documents per request, ids
-- unique per thread and request. CCF_PATH is set by bench/run.py.
local counter = 0
local thread_id = 0
local threads = 0
setup = function(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local parts = {}
  for i = 1, 1000 do
    parts[i] = string.format('{"document_id":"t%d/r%07d/d%04d","checksum":"%064d"}',
                             thread_id, counter, i, counter)
  end
  return wrk.format(nil, nil, nil, '{"documents":[' .. table.concat(parts, ",") .. ']}')
end
