-- POST /v3/auth/tokens, token method: re-scope $SUBJECT_TOKEN to the admin project.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"auth":{"identity":{"methods":["token"],"token":{"id":"' .. os.getenv("SUBJECT_TOKEN") .. '"}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}'
