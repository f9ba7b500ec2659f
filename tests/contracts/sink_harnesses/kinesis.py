"""The Kinesis sink against moto's Kinesis: a fresh stream with one shard per test (so arrival order is
total), read back from TRIM_HORIZON."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

from tests.streamer.sinks.moto_server import REGION, ROLE_ARN, MotoHarness


class Harness(MotoHarness):
    connection_type = "AwsKinesis"
    service = "kinesis"

    async def prepare(self) -> None:
        await self.client.create_stream(StreamName=self.name, ShardCount=1)
        for _ in range(200):  # moto creates streams ACTIVE; real Kinesis takes seconds
            summary = await self.client.describe_stream_summary(StreamName=self.name)
            if summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                break
            await asyncio.sleep(0.05)

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.delete_stream(StreamName=self.name, EnforceConsumerDeletion=True)
        await super().__aexit__(*exc)

    def credentials(self) -> dict[str, Any]:
        return {"region": REGION, "stream_name": self.name, "role_arn": ROLE_ARN}

    def broken_credentials(self) -> dict[str, Any]:
        return {"region": REGION, "stream_name": f"{self.name}-missing", "role_arn": ROLE_ARN}

    async def received_ids(self, expected: int, timeout_s: float = 10.0) -> list[int]:
        shards = (await self.client.list_shards(StreamName=self.name))["Shards"]
        start = await self.client.get_shard_iterator(StreamName=self.name, ShardId=shards[0]["ShardId"],
                                                     ShardIteratorType="TRIM_HORIZON")
        iterator: str | None = start["ShardIterator"]
        ids: list[int] = []
        deadline = time.monotonic() + timeout_s
        while iterator and len(ids) < expected:
            answer = await self.client.get_records(ShardIterator=iterator)
            ids.extend(int(msgspec.json.decode(r["Data"])["id"]) for r in answer["Records"])
            iterator = answer.get("NextShardIterator")
            if not answer["Records"]:
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.05)
        return ids
