"""One module per connection type, each imported only when a stream of that type is opened (so a
platform without MQTT streams never loads the MQTT client)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from cellstream.streamer.destinations import Credentials
from cellstream.streamer.sinks.base import Sink, SinkSettings

MODULES = {
    "RestAPI": "webhook",
    "S3": "s3",
    "AwsKinesis": "kinesis",
    "KeenIO": "keenio",
    "Datadog": "datadog",
    "Mqtt": "mqtt",
    "Nats": "nats_jetstream",
}


def open_sink(connection_type: str, credentials: Credentials, settings: SinkSettings,
              secrets: Sequence[str] = ()) -> Sink:
    module = importlib.import_module(f"cellstream.streamer.sinks.{MODULES[connection_type]}")
    sink: Sink = module.open_sink(credentials, settings, secrets)
    return sink
