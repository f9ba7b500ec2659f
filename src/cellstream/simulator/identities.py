"""The numbers a mobile network and a device put into signalling: IMEIs, node addresses, cells, tunnel ids,
session UUIDs and phone numbers.

Everything random comes from the `random.Random` passed in (a device's own stream), and everything about
a network node is derived from the operator and a node number, so a seed always yields the same records.
Node names follow the real formats: a VLR or 2G/3G SGSN is an E.164 global title in the operator's
country; an LTE MME is named by its 3GPP FQDN (TS 23.003 §19.4.2.4).
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict

from cellstream.domain.sims import luhn_digit
from cellstream.network.operators import Operator, operators

HOME_COUNTRY = "de"  # the default tariff charges the home rate in Germany (cellstream.domain.profiles)
NODES_PER_OPERATOR = 4  # VLR/MME pools: a device lands on one of a few nodes of its network
ROGUE_IMSI_PREFIX = "901439"  # the platform numbers its SIMs 90143 + the SIM id: ids this high never exist
# Type allocation codes of common LTE-M / NB-IoT modules (first 8 IMEI digits), as IoT fleets report them
TACS = ("35270810", "35346211", "86543205", "35921108", "86092104", "35467210")
# The platform's own packet gateways (breakout in eu-west-1): control and data plane /24s
GGSN_CONTROL, GGSN_DATA = "52.58.10", "52.58.11"

_BY_COUNTRY: dict[str, list[Operator]] = defaultdict(list)
for _operator in operators():
    _BY_COUNTRY[_operator.country.iso_code].append(_operator)


def operators_in(iso_code: str) -> list[Operator]:
    """The operators of a country (all its MCCs), in table order; empty for a country not in the table."""
    return list(_BY_COUNTRY.get(iso_code, ()))


def imei(seed: int, index: int) -> str:
    """The 15-digit IMEI (TAC + serial + Luhn digit) of device `index`; stable per seed and index, so the
    endpoint provisioned for a device and the device's own signalling agree."""
    rng = random.Random(f"imei/{seed}/{index}")
    body = rng.choice(TACS) + f"{rng.randrange(1_000_000):06d}"
    return body + luhn_digit(body)


def imeisv(imei_number: str, software_version: int) -> str:
    """IMEISV: the IMEI without its check digit plus a two-digit software version (16 digits)."""
    return imei_number[:14] + f"{software_version % 100:02d}"


def rogue_imsi(rng: random.Random) -> str:
    return ROGUE_IMSI_PREFIX + f"{rng.randrange(1_000_000_000):09d}"


def global_title(operator: Operator, node: int, role: int) -> str:
    """E.164 address of a VLR (role 0) or SGSN (role 1): country code, a network code, the node."""
    return f"{operator.country.country_code}{100 + operator.id:03d}{role}{node:06d}"


def mme_fqdn(operator: Operator, node: int) -> str:
    mnc = operator.mncs[0].zfill(3)
    return f"mmec{node + 1:02x}.mmegi8001.mme.epc.mnc{mnc}.mcc{operator.country.mcc}.3gppnetwork.org"


def sgsn_name(operator: Operator, node: int, rat_type: int) -> str:
    """What UpdateGprsLocation names: an MME's FQDN on LTE/NB-IoT (6, 8), an SGSN's global title else."""
    return mme_fqdn(operator, node) if rat_type in (6, 8) else global_title(operator, node, 1)


def node_ip(operator: Operator, node: int, plane: int = 0) -> str:
    """A public-looking address per operator and node; `plane` 1 is the user-plane neighbour."""
    return f"{80 + operator.id % 120}.{(operator.id * 37) % 256}.{16 + node}.{10 + plane}"


def ggsn_ips(rng: random.Random) -> tuple[str, str]:
    host = rng.randrange(1, 9)
    return f"{GGSN_CONTROL}.{host}", f"{GGSN_DATA}.{host}"


def cell(rng: random.Random) -> tuple[int, int]:
    """A location area code and cell id (both 16 bits, as the PDP context carries them)."""
    return rng.randrange(1, 0xFFFE), rng.randrange(1, 0xFFFF)


def session_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def teid(rng: random.Random) -> int:
    return rng.randrange(1, 2**32)


def peer_number(rng: random.Random) -> str:
    """The other party of a short message: a German mobile number or an application's short code."""
    if rng.random() < 0.3:
        return f"{rng.randrange(10_000, 99_999)}"
    return f"4915{rng.randrange(10):d}{rng.randrange(10**7):07d}"
