"""The S3 sink against moto's S3: a fresh bucket per test, read back in key order (the sink's keys sort
in log order), the `id` column of every CSV object."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from typing import Any

from tests.streamer.sinks.moto_server import REGION, ROLE_ARN, MotoHarness


class Harness(MotoHarness):
    connection_type = "S3"
    service = "s3"

    async def prepare(self) -> None:
        await self.client.create_bucket(Bucket=self.name,
                                        CreateBucketConfiguration={"LocationConstraint": REGION})

    def credentials(self) -> dict[str, Any]:
        return {"region": REGION, "bucket_name": self.name, "role_arn": ROLE_ARN}

    def broken_credentials(self) -> dict[str, Any]:
        return {"region": REGION, "bucket_name": f"{self.name}-missing", "role_arn": ROLE_ARN}

    async def received_ids(self, expected: int, timeout_s: float = 10.0) -> list[int]:
        deadline = time.monotonic() + timeout_s
        while True:
            ids = await self._read_ids()
            if len(ids) >= expected or time.monotonic() >= deadline:
                return ids
            await asyncio.sleep(0.05)

    async def _read_ids(self) -> list[int]:
        ids: list[int] = []
        keys: list[str] = []
        async for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        for key in sorted(keys):  # S3 lists in key order already; sorting says the order is meant
            answer = await self.client.get_object(Bucket=self.name, Key=key)
            async with answer["Body"] as body:
                text = (await body.read()).decode()
            ids.extend(int(row["id"]) for row in csv.DictReader(io.StringIO(text, newline="")))
        return ids
