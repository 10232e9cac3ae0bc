-- GET /v3/auth/tokens: validate $SUBJECT_TOKEN with $ADMIN_TOKEN.
wrk.method = "GET"
wrk.headers["X-Auth-Token"] = os.getenv("ADMIN_TOKEN")
wrk.headers["X-Subject-Token"] = os.getenv("SUBJECT_TOKEN")
