"""Every action the platform offers, built once with what each needs (GET /api/v1/automation/action)."""

from __future__ import annotations

from cellstream.automations.actions.base import Action
from cellstream.automations.actions.callback import CallbackAction
from cellstream.automations.actions.device import device_actions
from cellstream.automations.actions.email import EmailAction
from cellstream.clock import Clock
from cellstream.domain.connectivity import Connectivity
from cellstream.network.service import NetworkService
from cellstream.settings import Settings


def build_actions(settings: Settings, connectivity: Connectivity, network: NetworkService,
                  clock: Clock) -> tuple[dict[str, Action], CallbackAction]:
    """The actions by id, and the callback action (it holds an HTTP session the platform closes)."""
    callback = CallbackAction(connectivity.resources, settings.allow_private_destinations)
    actions: list[Action] = [callback, EmailAction(settings), *device_actions(connectivity, network, clock)]
    return {a.id: a for a in actions}, callback
