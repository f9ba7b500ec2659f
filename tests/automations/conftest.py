"""Automations deliver to servers on 127.0.0.1 (callbacks, SMTP), so they open the platform the way the
streamer's tests do: memory stores, a manual clock, private destinations allowed; `receiver` is a local
callback receiver."""

from tests.automations.receiver import receiver
from tests.streamer.conftest import clock, services

__all__ = ["clock", "receiver", "services"]
