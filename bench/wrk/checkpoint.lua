wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"checkpoint_data": "' .. string.rep("x", 1048576) .. '"}'
