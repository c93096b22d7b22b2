"""No false alarms on healthy clusters of any shape: random clean topologies (hypothesis)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.lab.topology import parse_topology
from harness.selftest.runner import run_variants, text_variant
from harness.selftest.topogen import generate_topology
from harness.yamlfile import parse_yaml


def _check(text: str) -> None:
    topology = parse_topology(parse_yaml(text, "random"), "random")
    assert 2 <= len(topology.nodes) <= 8 and 4 <= len(topology.vms) <= 30


# Each example draws hundreds of values (names, sizes, speeds): the input is large by design.
_BIG_INPUT = [HealthCheck.large_base_example, HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=_BIG_INPUT)
@given(st.randoms(use_true_random=False))
def test_generated_topologies_are_valid(rng: random.Random) -> None:
    _check(generate_topology(rng))


@pytest.mark.slow
def test_every_scenario_passes_on_random_clean_topologies() -> None:
    texts: list[str] = []

    # Hypothesis draws the examples; the suite then runs them two at a time in fresh processes
    # (a run per example inside @given would be sequential: ~4x the CI time).
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        suppress_health_check=_BIG_INPUT,
    )
    @given(st.randoms(use_true_random=False))
    def draw(rng: random.Random) -> None:
        text = generate_topology(rng)
        _check(text)
        texts.append(text)

    draw()
    assert len(texts) >= 25
    variants = [text_variant(f"random #{i + 1}", t) for i, t in enumerate(texts[:25])]
    rows = run_variants(variants, "sim", jobs=2)
    bad = [r for r in rows if not r.ok]
    report = "\n\n".join(
        f"--- {r.name}: {r.detail}\n--- topology file to reproduce it:\n{r.topology}" for r in bad
    )
    assert not bad, report
    assert sum(r.counts["passed"] for r in rows) > 25 * 5


def test_random_topologies_hold_vms_over_4_gib_and_several_configuration_versions() -> None:
    import yaml as _yaml

    from harness.selftest.topogen import random_topology_text as _text

    sizes: set[int] = set()
    versions_per_cluster: list[set[str]] = []
    for seed in range(40):
        doc = _yaml.safe_load(_text(seed))
        sizes.update(int(v["memory_mib"]) for v in doc["vms"])
        versions_per_cluster.append({str(v["config_version"]) for v in doc["vms"]})
    assert max(sizes) * 2**20 > 4 * 2**30
    assert any(len(v) >= 3 for v in versions_per_cluster)
    assert {"5.0", "10.0"} <= set().union(*versions_per_cluster)
    # One cluster never mixes versions no single Windows Server release runs together.
    assert not any({"5.0", "10.0"} <= v for v in versions_per_cluster)
