-- GET /v3/projects with $ADMIN_TOKEN.
wrk.method = "GET"
wrk.headers["X-Auth-Token"] = os.getenv("ADMIN_TOKEN")
