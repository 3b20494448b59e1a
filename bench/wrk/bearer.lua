-- GET with one bearer token (TOKEN) on every request.
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or "")
