-- POST /v3/auth/tokens, password method, project scope (admin / $PASSWORD).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"' .. os.getenv("PASSWORD") .. '"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}'
