-- wrk script for bench/run-rest.sh: POST /api/posts with a small JSON body (the token comes as a -H header).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"Bench post","body":"A post written by the REST bench, long enough to look like a real one."}'
