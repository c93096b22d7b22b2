"""Property-based fuzzing of every user-file surface: any input is accepted or refused with an
InputError (exit 2 in the CLI), never another exception. Bounded for CI (small max_examples)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import InputError
from harness.evidence.signers import parse_allowed_signers
from harness.evidence.waivers import load_waivers
from harness.lab.topology import DEFAULT_TOPOLOGY, parse_topology
from harness.targets.inventory import parse_inventory_text
from harness.yamlfile import parse_yaml

TOPOLOGY = DEFAULT_TOPOLOGY.read_text(encoding="utf-8")
INVENTORY = """\
cluster: PRODCLU1
credentials: {username_env: QM_USER, password_env: QM_PASSWORD}
nodes:
  - {name: HV01, host: hv01.corp.example, port: 5986, scheme: https}
vms: {allow: ['qm-*']}
"""
WAIVERS = """\
waivers:
  - claim: QM-14
    justification: NIC team rebuild pending
    approved_by: CAB
    expires: 2099-12-31
"""
SIGNERS = 'op@example.org namespaces="qmaudit" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ\n'
HOSTILE = st.sampled_from(
    [
        "1e-300",
        "-1",
        "0",
        "1.0e+400",
        ".nan",
        "!!python/object:os.system x",
        "&a [*a, *a]",
        "{{ lookup('pipe','id') }}",
        "\x1b[2J",
        "'\\n'",
        "~",
        "[]",
        "{}",
        "99999999999999999999999999",
        "Off",
        "2099-02-30",
    ]
)
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def mutate(text: str, data: st.DataObject) -> str:
    """Replace a value after a colon, or splice random text, a few times."""
    for _ in range(data.draw(st.integers(1, 3))):
        colons = [i for i, ch in enumerate(text) if ch == ":"]
        if colons and data.draw(st.booleans()):
            at = data.draw(st.sampled_from(colons)) + 1
            end = min((text.find(ch, at) for ch in ",}\n" if text.find(ch, at) != -1), default=at)
            text = text[:at] + " " + data.draw(HOSTILE) + text[end:]
        else:
            at = data.draw(st.integers(0, len(text)))
            text = text[:at] + data.draw(st.text(max_size=12)) + text[at:]
    return text


@SETTINGS
@given(data=st.data())
def test_topology(data: st.DataObject) -> None:
    text = mutate(TOPOLOGY, data)
    with contextlib.suppress(InputError):
        parse_topology(parse_yaml(text, "fuzz-topology.yaml"), "fuzz-topology.yaml")


@SETTINGS
@given(data=st.data())
def test_inventory(data: st.DataObject) -> None:
    with contextlib.suppress(InputError):
        parse_inventory_text(mutate(INVENTORY, data), "fuzz-inventory.yaml")


@SETTINGS
@given(data=st.data())
def test_waivers(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(mutate(WAIVERS, data), encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(InputError):
        load_waivers(path)


@SETTINGS
@given(data=st.data())
def test_allowed_signers(data: st.DataObject) -> None:
    with contextlib.suppress(InputError):
        parse_allowed_signers(mutate(SIGNERS, data), "fuzz-signers")
