"""One load process: keeps N calls of one operation in flight for a fixed window.

Run by bench/run.py, never in the server's interpreter, so the server's figures are
its own. Asyncio gRPC is the cheapest Python client per call; several channels (each
its own connection) let the kernel spread them over server processes sharing a port.
Reads a JSON job on stdin, writes the latencies of the calls that completed inside
the window as JSON on stdout, with the count of each status code that came back.

A password check shed by the server (RESOURCE_EXHAUSTED) is no error: a `password`
worker waits SHED_BACKOFF, as a client honouring the answer would, and tries again;
only successful authentications are timed. The `flood` operation is the attacker of
bench/flood.py: wrong passwords for an unknown user, sent again at once whatever the
answer.
"""

import asyncio
import json
import sys
import time

import grpc
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as rpc

SHED_BACKOFF = 1.0  # seconds: the Retry-After the server gives with a shed check
EXPECTED = {"password": ("RESOURCE_EXHAUSTED",), "flood": ("RESOURCE_EXHAUSTED", "UNAUTHENTICATED")}


def call_for(stub: rpc.IdentityStub, job: dict):
    """The coroutine factory for the job's operation, with its request built once."""
    op, t = job["op"], job["tokens"]
    as_user = (("x-auth-token", t.get("user", "")),)
    if op == "noop":
        request = pb.PingRequest()
        return lambda: stub.Ping(request)
    if op == "validate":
        request = pb.ValidateTokenRequest(subject_token=t["project"], no_catalog=True)
        as_service = (("x-auth-token", t["service"]),)
        return lambda: stub.ValidateToken(request, metadata=as_service)
    if op == "list_projects":
        request = pb.ListProjectsRequest()
        return lambda: stub.ListProjects(request, metadata=as_user)
    if op == "catalog":
        request = pb.CatalogRequest()
        as_project = (("x-auth-token", t["project"]),)
        return lambda: stub.Catalog(request, metadata=as_project)
    scope = pb.Scope(project=pb.ProjectSelector(id=job["project_id"]))
    if op == "rescope":
        request = pb.AuthenticateRequest(token=pb.TokenMethod(token=t["user"]), scope=scope)
        return lambda: stub.Authenticate(request)
    if op == "flood":
        user = pb.UserSelector(name="flood-nobody", domain=pb.DomainSelector(id="default"))
        request = pb.AuthenticateRequest(
            password=pb.PasswordMethod(user=user, password="wrong-password"), no_catalog=True)
        return lambda: stub.Authenticate(request)
    if op == "password":
        user = pb.UserSelector(name=job["username"],
                               domain=pb.DomainSelector(name=job["user_domain"]))
        request = pb.AuthenticateRequest(
            password=pb.PasswordMethod(user=user, password=job["password"]), scope=scope)
        return lambda: stub.Authenticate(request)
    raise ValueError(f"unknown operation {op!r}")


async def run(job: dict) -> dict:
    channels = [grpc.aio.insecure_channel(job["address"],
                                          options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(job["channels"])]
    calls = [call_for(rpc.IdentityStub(channel), job) for channel in channels]
    for channel in channels:
        await channel.channel_ready()
    start_at = job["start_at"] - time.time() + time.perf_counter()
    end_at = start_at + job["duration"]
    latencies: list[float] = []
    errors: list[str] = []
    codes: dict[str, int] = {}
    expected = EXPECTED.get(job["op"], ())

    async def worker(call):
        while True:
            began = time.perf_counter()
            if began >= end_at:
                return
            try:
                await call()
            except grpc.aio.AioRpcError as e:
                code = e.code().name
                if began >= start_at:
                    codes[code] = codes.get(code, 0) + 1
                if code in expected:
                    if code == "RESOURCE_EXHAUSTED" and job["op"] == "password":
                        await asyncio.sleep(SHED_BACKOFF)
                    continue
                errors.append(f"{code}: {e.details()}")
                if len(errors) > 100:
                    return
                continue
            if began >= start_at:  # calls begun during the warm-up are not counted
                latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker(calls[i % len(calls)]) for i in range(job["concurrency"])))
    for channel in channels:
        await channel.close()
    codes["OK"] = len(latencies)
    return {"latencies": latencies, "errors": errors[:5], "error_count": len(errors),
            "codes": codes}


def main() -> None:
    job = json.load(sys.stdin)
    json.dump(asyncio.run(run(job)), sys.stdout)


if __name__ == "__main__":
    main()
