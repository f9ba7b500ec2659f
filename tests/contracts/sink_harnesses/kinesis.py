"""The Kinesis sink against moto's Kinesis: a fresh stream with one shard per test (so arrival order is
total), read back from TRIM_HORIZON."""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import msgspec
from aiobotocore.session import get_session

from cellstream.streamer.sinks.base import SinkSettings
from tests.conftest import need_service
from tests.streamer.sinks.moto_server import REGION, ROLE_ARN, moto_endpoint

if TYPE_CHECKING:
    from types_aiobotocore_kinesis.client import KinesisClient


class Harness:
    connection_type = "AwsKinesis"

    def __init__(self) -> None:
        self.url = moto_endpoint()
        self.settings = SinkSettings(aws_endpoint_url=self.url, allow_private_destinations=True)
        self.stream = f"cellstream-test-{uuid.uuid4().hex[:16]}"
        self._stack = AsyncExitStack()
        self._kinesis: KinesisClient | None = None

    async def __aenter__(self) -> Self:
        where = urlsplit(self.url)
        need_service("moto", where.hostname or "127.0.0.1", where.port or 80)
        self._kinesis = await self._stack.enter_async_context(
            get_session().create_client("kinesis", region_name=REGION, endpoint_url=self.url))
        await self._kinesis.create_stream(StreamName=self.stream, ShardCount=1)
        for _ in range(200):  # moto creates streams ACTIVE; real Kinesis takes seconds
            summary = await self._kinesis.describe_stream_summary(StreamName=self.stream)
            if summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                break
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._kinesis is not None:
            await self._kinesis.delete_stream(StreamName=self.stream, EnforceConsumerDeletion=True)
        await self._stack.aclose()

    def credentials(self) -> dict[str, Any]:
        return {"region": REGION, "stream_name": self.stream, "role_arn": ROLE_ARN}

    def broken_credentials(self) -> dict[str, Any]:
        return {"region": REGION, "stream_name": f"{self.stream}-missing", "role_arn": ROLE_ARN}

    async def received_ids(self, expected: int, timeout_s: float = 10.0) -> list[int]:
        assert self._kinesis is not None
        shards = (await self._kinesis.list_shards(StreamName=self.stream))["Shards"]
        start = await self._kinesis.get_shard_iterator(StreamName=self.stream, ShardId=shards[0]["ShardId"],
                                                       ShardIteratorType="TRIM_HORIZON")
        iterator: str | None = start["ShardIterator"]
        ids: list[int] = []
        deadline = time.monotonic() + timeout_s
        while iterator and len(ids) < expected:
            answer = await self._kinesis.get_records(ShardIterator=iterator)
            ids.extend(int(msgspec.json.decode(r["Data"])["id"]) for r in answer["Records"])
            iterator = answer.get("NextShardIterator")
            if not answer["Records"]:
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.05)
        return ids
