"""The log's writer thread (identity_grpc/logs.py), in a process of its own as a
server has it: woken per batch, not per record, yet nothing is lost when the process
ends and a warning is written at once."""

import json
import subprocess
import sys
import textwrap


def run(code: str) -> subprocess.CompletedProcess:
    program = "import logging, sys, time\nfrom identity_grpc import logs\n" + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60)


def test_every_record_is_written_in_order_by_the_time_the_process_ends():
    done = run("""
        logs.configure("INFO", "json")
        log = logging.getLogger("identity_grpc.test")
        for n in range(500):
            log.info("line %d", n)
        log.debug("never made")
    """)  # no stop(): the exit writes what is queued
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [e["message"] for e in lines] == [f"line {n}" for n in range(500)]


def test_a_warning_is_written_without_waiting_for_the_next_batch():
    done = run("""
        logs.configure("INFO", "json")
        interval, logs.WRITE_INTERVAL = logs.WRITE_INTERVAL, 30.0  # the writer's next sleep
        time.sleep(4 * interval)  # it has started that sleep
        logging.getLogger("identity_grpc.test").info("ordinary")
        logging.getLogger("identity_grpc.test").warning("loud")
        time.sleep(0.5)  # far less than the 30 s the writer would otherwise sleep
        import os; os._exit(0)  # no exit handlers: only what was written already counts
    """)
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [e["message"] for e in lines] == ["ordinary", "loud"], done.stderr
