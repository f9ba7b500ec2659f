"""Outbound destinations must be public unless the operator allows private ones."""

from __future__ import annotations

import pytest

from cellstream.errors import Unprocessable
from cellstream.streamer.addresses import check_destination, is_private


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "0.0.0.0",
                                     "224.0.0.1"])
def test_non_public_addresses(address: str) -> None:
    assert is_private(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert not is_private(address)


async def test_check_destination() -> None:
    with pytest.raises(Unprocessable, match="private or loopback"):
        await check_destination("http://127.0.0.1:8080/x", "url", allow_private=False, schemes=("http",))
    with pytest.raises(Unprocessable, match="private or loopback"):
        await check_destination("http://localhost/x", "url", allow_private=False, schemes=("http",))
    await check_destination("http://127.0.0.1:8080/x", "url", allow_private=True, schemes=("http",))
    with pytest.raises(Unprocessable, match="scheme"):
        await check_destination("file:///etc/passwd", "url", allow_private=True, schemes=("http", "https"))
    with pytest.raises(Unprocessable, match="port"):
        await check_destination("http://h:99999/", "url", allow_private=True, schemes=("http",))
    with pytest.raises(Unprocessable, match="no host"):
        await check_destination("http:///x", "url", allow_private=True, schemes=("http",))
