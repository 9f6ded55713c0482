#!/usr/bin/env python3
"""Submit a job to a Drover master over REST and wait for its result: Python's standard
library only, so any machine with Python 3 can hand Drover work.

    python3 Examples/rest-client.py http://127.0.0.1:8080 echo '{"hello": "from python"}'
"""
import json
import sys
import urllib.error
import urllib.request


def call(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=70) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        # Errors come as {"error": {"code": ..., "message": ...}} with the status.
        detail = json.load(error)["error"]
        sys.exit(f"{error.code} {detail['code']}: {detail['message']}")


def main():
    master = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    job_type = sys.argv[2] if len(sys.argv) > 2 else "echo"
    payload = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {"hello": "from python"}

    job = call("POST", f"{master}/v1/jobs", {"type": job_type, "payload": payload, "maxAttempts": 3})
    print(f"submitted {job['id']}", file=sys.stderr)
    while True:
        # Long-poll: the master answers as soon as the job finishes, or after 30 s.
        job = call("GET", f"{master}/v1/jobs/{job['id']}?wait=30s")
        if job["state"] in ("COMPLETED", "DEAD_LETTER"):
            break
    if job["state"] == "DEAD_LETTER":
        sys.exit(f"dead letter after {job['attempt']} attempts: {job.get('error')}")
    print(json.dumps(job["result"]))


if __name__ == "__main__":
    main()
