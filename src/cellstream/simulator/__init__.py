"""The fleet simulator: provisions SIMs and endpoints in an organisation and drives simulated devices
through the network ingest interface a real mobile core uses (`cellstream simulate`, and in-process in
`cellstream run`). See cellstream.simulator.scenarios for what each scenario does."""

from cellstream.simulator.progress import Counters
from cellstream.simulator.runner import Simulation
from cellstream.simulator.scenarios import SCENARIOS

__all__ = ["SCENARIOS", "Counters", "Simulation"]
