-- POST /v2.0/ports on $NETWORK_ID (an address from its subnet), as $TOKEN.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Auth-Token"] = os.getenv("TOKEN")
wrk.body = '{"port":{"network_id":"' .. os.getenv("NETWORK_ID") .. '"}}'
