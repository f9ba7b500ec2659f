"""The provisioning steps over HTTP, for `cellstream simulate --target URL`.

Endpoints, profiles, quotas, SIM status and blacklists go through the public REST API as any customer
application would, with an application token of the organisation (exchanged for an auth token at
`POST /api/v1/authenticate`). SIM batches are the platform operator's step, so they go through
`POST /internal/v1/sim_batch` with a service token.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec

from cellstream.domain.quotas import QuotaRequest
from cellstream.events.timefmt import format_timestamp
from cellstream.simulator.provision import EndpointView, NewEndpoint
from cellstream.simulator.sink import SimulatorError, problem_text

if TYPE_CHECKING:
    import aiohttp

PER_PAGE = 1000
CONCURRENCY = 8  # endpoint creations in flight


class HttpPlatform:
    def __init__(self, base_url: str, org_id: int, *, service_token: str, app_token: str,
                 timeout_s: float = 60.0) -> None:
        self.base = base_url.rstrip("/")
        self.org_id = org_id
        self._service = {"Authorization": f"Bearer {service_token}"}
        self._app_token = app_token
        self._auth: dict[str, str] = {}
        self._timeout_s = timeout_s
        self._client: aiohttp.ClientSession | None = None

    @property
    def _session(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will use it (aiohttp binds a session to a loop)
        import aiohttp  # only the --target mode needs it

        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_s))
        return self._client

    async def _request(self, method: str, path: str, *, json: Any = None, internal: bool = False,
                       params: dict[str, Any] | None = None, ok: tuple[int, ...] = (200, 201, 204),
                       ) -> tuple[int, bytes, dict[str, str]]:
        import aiohttp

        for fresh_login in (False, True):
            if not internal and (fresh_login or not self._auth):
                await self._login()
            headers = self._service if internal else self._auth
            try:
                async with self._session.request(method, self.base + path, json=json, params=params,
                                                 headers=headers) as response:
                    status, body, answer_headers = response.status, await response.read(), dict(
                        response.headers)
            except aiohttp.ClientError as exc:
                raise SimulatorError(f"{method} {path} failed: {exc}") from exc
            if status == 401 and not internal and not fresh_login:
                continue  # the auth token expired during a long run: log in again once
            if status not in ok:
                raise SimulatorError(f"{method} {path} answered {problem_text(status, body)}")
            return status, body, answer_headers
        raise SimulatorError(f"{method} {path}: the application token is not accepted")

    async def _login(self) -> None:
        import aiohttp

        try:
            async with self._session.post(self.base + "/api/v1/authenticate",
                                          json={"application_token": self._app_token}) as response:
                status, body = response.status, await response.read()
        except aiohttp.ClientError as exc:
            raise SimulatorError(f"POST /api/v1/authenticate failed: {exc}") from exc
        if status != 200:
            raise SimulatorError(f"the application token was refused: {problem_text(status, body)}")
        self._auth = {"Authorization": f"Bearer {msgspec.json.decode(body)['auth_token']}"}

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        _, body, _ = await self._request(method, path, **kwargs)
        return msgspec.json.decode(body)

    async def check_organisation(self) -> None:
        # SIMs go to --org, endpoints to the token's organisation: they must be the same one
        tariffs = await self._json("GET", "/api/v1/tariff_profile")
        owners = {int(t["organisation_id"]) for t in tariffs if t.get("organisation_id") is not None}
        if owners and owners != {self.org_id}:
            raise SimulatorError(f"the application token belongs to organisation {min(owners)}, "
                                 f"not to organisation {self.org_id} (--org)")

    async def endpoints(self) -> list[EndpointView]:
        views: list[EndpointView] = []
        page, pages = 1, 1
        while page <= pages:
            _, body, headers = await self._request("GET", "/api/v1/endpoint",
                                                   params={"page": page, "per_page": PER_PAGE})
            pages = int(headers.get("X-Total-Pages", "1"))
            for e in msgspec.json.decode(body):
                sim = e.get("sim") or {}
                views.append(EndpointView(e["id"], e.get("name") or "", e["service_profile"]["id"],
                                          e.get("imei"), sim.get("id"), sim.get("imsi"),
                                          (sim.get("status") or {}).get("id")))
            page += 1
        return views

    async def default_profiles(self) -> tuple[int, int]:
        service = await self._json("GET", "/api/v1/service_profile")
        tariff = await self._json("GET", "/api/v1/tariff_profile")
        if not service or not tariff:
            raise SimulatorError("the organisation has no service or tariff profile")
        return min(p["id"] for p in service), min(p["id"] for p in tariff)

    async def provision_sims(self, count: int, bic: str) -> list[tuple[int, str]] | None:
        status, body, _ = await self._request("POST", "/internal/v1/sim_batch", internal=True,
                                              json={"count": count, "bic": bic, "org_id": self.org_id},
                                              ok=(201, 409))
        if status == 409:
            return None
        return [(s["id"], s["imsi"]) for s in msgspec.json.decode(body)["sim"]]

    async def create_endpoints(self, new: list[NewEndpoint]) -> list[int]:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def create(n: NewEndpoint) -> int:
            async with gate:
                _, _, headers = await self._request("POST", "/api/v1/endpoint", ok=(201,), json={
                    "name": n.name, "status": {"id": 0}, "service_profile": {"id": n.service_profile_id},
                    "tariff_profile": {"id": n.tariff_profile_id}, "imei": n.imei, "sim": {"id": n.sim_id}})
            return int(headers["Location"].rstrip("/").rsplit("/", 1)[-1])

        return list(await asyncio.gather(*(create(n) for n in new)))

    async def set_sim_status(self, sim_id: int, status_id: int) -> None:
        await self._request("PATCH", f"/api/v1/sim/{sim_id}", json={"status": {"id": status_id}})

    async def set_apply_data_quota(self, service_profile_id: int, on: bool) -> bool:
        before = await self._json("GET", f"/api/v1/service_profile/{service_profile_id}")
        if bool(before["apply_data_quota"]) != on:
            await self._request("PATCH", f"/api/v1/service_profile/{service_profile_id}",
                                json={"apply_data_quota": on})
        return bool(before["apply_data_quota"])

    async def assign_data_quota(self, endpoint_id: int, request: QuotaRequest) -> None:
        await self._request("POST", f"/api/v1/endpoint/{endpoint_id}/quota/data", json={
            "status": {"id": request.status_id}, "volume": request.volume,
            "expiry_date": format_timestamp(request.expiry_ms), "auto_refill": request.auto_refill,
            "threshold_percentage": request.threshold_percentage,
            "action_on_exhaustion": {"id": request.action_id, "peak_throughput": request.peak_throughput}})

    async def blacklist(self, endpoint_id: int, operator_id: int, *, add: bool) -> None:
        # 409 (already listed) and 404 (already gone) leave the blacklist as wanted
        await self._request("PUT" if add else "DELETE",
                            f"/api/v1/endpoint/{endpoint_id}/operator_blacklist/{operator_id}",
                            ok=(200, 201, 204, 404, 409))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
