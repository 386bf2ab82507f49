"""One load process: keeps N calls of one operation in flight for a fixed window.

Run by bench/run.py, never in the server's interpreter, so the server's figures are
its own. Asyncio gRPC is the cheapest Python client per call; several channels (each
its own connection) let the kernel spread them over server processes sharing a port.
Reads a JSON job on stdin, writes the latencies of the calls that completed inside
the window as JSON on stdout.
"""

import asyncio
import json
import sys
import time

import grpc
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as rpc


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

    async def worker(call):
        while True:
            began = time.perf_counter()
            if began >= end_at:
                return
            try:
                await call()
            except grpc.aio.AioRpcError as e:
                errors.append(f"{e.code().name}: {e.details()}")
                if len(errors) > 100:
                    return
                continue
            if began >= start_at:  # calls begun during the warm-up are not counted
                latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker(calls[i % len(calls)]) for i in range(job["concurrency"])))
    for channel in channels:
        await channel.close()
    return {"latencies": latencies, "errors": errors[:5], "error_count": len(errors)}


def main() -> None:
    job = json.load(sys.stdin)
    json.dump(asyncio.run(run(job)), sys.stdout)


if __name__ == "__main__":
    main()
