"""No-op jobs and the measurements the peer comparison takes of RQ, Celery and huey.

    python python_peers.py PEER enqueue N   one by one, then in bulk where the peer has it
    python python_peers.py PEER fill N      queue N no-op jobs
    python python_peers.py PEER wait N      after the peer's workers start: the processing rate
    python python_peers.py PEER latency S   S jobs one at a time, submit -> done seen here

PEER is rq, celery or huey; REDIS_URL names the Redis. Each mode prints one JSON line.
The workers themselves are started by `bench/compare` with the peer's own command line.
"""

import json
import os
import sys
import time
import uuid

import redis

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
_redis = redis.Redis.from_url(REDIS_URL)


# The jobs. `mark` pushes to a list the client waits on: how "done" is seen for the latency
# measurement, the same way for every peer (none of them needs a result backend for it).
def noop():
    return None


def mark(key):
    _redis.lpush(key, 1)


# Celery, with Redis as the broker and no result backend.
from celery import Celery  # noqa: E402

celery_app = Celery("peers", broker=REDIS_URL)
celery_app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)
celery_noop = celery_app.task(name="noop")(noop)
celery_mark = celery_app.task(name="mark")(mark)

# huey, with results off (a no-op job returns nothing anyway).
from huey import RedisHuey  # noqa: E402

huey_app = RedisHuey("peers", url=REDIS_URL, results=False)
huey_noop = huey_app.task(name="noop")(noop)
huey_mark = huey_app.task(name="mark")(mark)

# RQ, on the default queue.
from rq import Queue  # noqa: E402

# The list each peer's jobs wait in, for counting and for the processing clock.
QUEUE_KEYS = {"rq": "rq:queue:default", "celery": "celery", "huey": "huey.redis.peers"}


def rq_queue():
    return Queue("default", connection=_redis)


def enqueue_one(peer):
    if peer == "rq":
        rq_queue().enqueue("python_peers.noop", result_ttl=0)
    elif peer == "celery":
        celery_noop.delay()
    elif peer == "huey":
        huey_noop()


def enqueue_bulk(peer, count):
    """Bulk enqueue where the peer has it (RQ's enqueue_many); None otherwise."""
    if peer != "rq":
        return None
    queue = rq_queue()
    for _ in range(count // 1000):
        queue.enqueue_many([Queue.prepare_data("python_peers.noop", result_ttl=0) for _ in range(1000)])
    return count // 1000 * 1000


def submit_mark(peer, key):
    if peer == "rq":
        rq_queue().enqueue("python_peers.mark", key, result_ttl=0)
    elif peer == "celery":
        celery_mark.delay(key)
    elif peer == "huey":
        huey_mark(key)


def main():
    peer, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    clock = time.monotonic
    if mode == "enqueue":
        _redis.flushdb()
        started = clock()
        for _ in range(count):
            enqueue_one(peer)
        one_by_one = count / (clock() - started)
        _redis.flushdb()
        started = clock()
        bulk_count = enqueue_bulk(peer, count)
        bulk = bulk_count / (clock() - started) if bulk_count else None
        _redis.flushdb()
        print(json.dumps({"oneByOne": round(one_by_one), "bulk": round(bulk) if bulk else None}))
    elif mode == "fill":
        _redis.flushdb()
        if enqueue_bulk(peer, count) is None:
            fill_one_by_one(peer, count)
        print(json.dumps({"queued": _redis.llen(QUEUE_KEYS[peer])}))
    elif mode == "wait":
        # The clock starts when the first job leaves the queue and stops when the queue is
        # empty: at most the workers' in-flight and prefetched jobs (well under 1 % of N)
        # are still running then.
        key = QUEUE_KEYS[peer]
        while _redis.llen(key) >= count:
            time.sleep(0.001)
        started = clock()
        first = count - _redis.llen(key)
        while _redis.llen(key) > 0:
            time.sleep(0.002)
        print(json.dumps({"jobsPerSecond": round((count - first) / (clock() - started))}))
    elif mode == "latency":
        samples = []
        for _ in range(count):
            key = "bench:done:" + uuid.uuid4().hex
            started = clock()
            submit_mark(peer, key)
            if _redis.blpop(key, timeout=10) is None:
                raise SystemExit(f"{peer}: a job did not finish within 10 s")
            samples.append((clock() - started) * 1000)
        samples.sort()
        pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
        print(json.dumps({"p50Ms": round(pick(0.5), 3), "p99Ms": round(pick(0.99), 3), "maxMs": round(samples[-1], 3)}))
    else:
        raise SystemExit(f"unknown mode {mode}")


def fill_one_by_one(peer, count):
    """Celery and huey have no bulk enqueue: one by one, which is what their users do."""
    for _ in range(count):
        enqueue_one(peer)


if __name__ == "__main__":
    # Jobs are named after the module they come from: run them as `python_peers`, the name
    # the workers import, not as `__main__`.
    import python_peers

    python_peers.main()
