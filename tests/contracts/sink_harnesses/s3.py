"""The S3 sink against moto's S3: a fresh bucket per test, read back in key order (the sink's keys sort
in log order), the `id` column of every CSV object."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from aiobotocore.session import get_session

from cellstream.streamer.sinks.base import SinkSettings
from tests.conftest import need_service
from tests.streamer.sinks.moto_server import REGION, ROLE_ARN, moto_endpoint

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client


class Harness:
    connection_type = "S3"

    def __init__(self) -> None:
        self.url = moto_endpoint()
        self.settings = SinkSettings(aws_endpoint_url=self.url, allow_private_destinations=True)
        self.bucket = f"cellstream-test-{uuid.uuid4().hex[:16]}"
        self._stack = AsyncExitStack()
        self._s3: S3Client | None = None

    async def __aenter__(self) -> Self:
        where = urlsplit(self.url)
        need_service("moto", where.hostname or "127.0.0.1", where.port or 80)
        self._s3 = await self._stack.enter_async_context(
            get_session().create_client("s3", region_name=REGION, endpoint_url=self.url))
        await self._s3.create_bucket(Bucket=self.bucket,
                                     CreateBucketConfiguration={"LocationConstraint": REGION})
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def credentials(self) -> dict[str, Any]:
        return {"region": REGION, "bucket_name": self.bucket, "role_arn": ROLE_ARN}

    def broken_credentials(self) -> dict[str, Any]:
        return {"region": REGION, "bucket_name": f"{self.bucket}-missing", "role_arn": ROLE_ARN}

    async def received_ids(self, expected: int, timeout_s: float = 10.0) -> list[int]:
        deadline = time.monotonic() + timeout_s
        while True:
            ids = await self._read_ids()
            if len(ids) >= expected or time.monotonic() >= deadline:
                return ids
            await asyncio.sleep(0.05)

    async def _read_ids(self) -> list[int]:
        assert self._s3 is not None
        ids: list[int] = []
        keys: list[str] = []
        async for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        for key in sorted(keys):  # S3 lists in key order already; sorting says the order is meant
            answer = await self._s3.get_object(Bucket=self.bucket, Key=key)
            async with answer["Body"] as body:
                text = (await body.read()).decode()
            ids.extend(int(row["id"]) for row in csv.DictReader(io.StringIO(text, newline="")))
        return ids
