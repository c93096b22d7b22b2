"""The lab models the remote session as Windows does: logon (second hop), locale, language mode,
events with extra properties, storage traffic on the cluster networks."""

from __future__ import annotations

from typing import Any

import pytest

from harness.audit.objects import VmDetails
from harness.domain.events import queries
from harness.lab.model import LabCluster
from harness.lab.responder import LabResponder
from harness.lab.session import ConstrainedLanguageError, LabSession
from harness.probes.integration import TIME_SYNC_COMPONENT_ID
from harness.schemas import validate_probe_output
from tests.lab.conftest import advance, make_lab

SMB_VM = "app 02"


def _with(**top: Any) -> LabCluster:
    def edit(data: dict[str, Any]) -> None:
        data.update(top)

    return make_lab(edit=edit)


def _answer(c: LabCluster, node: str, probe: str, params: dict[str, Any], **kw: Any) -> Any:
    doc = LabResponder(c).answer(node, probe, params, **kw)
    validate_probe_output(probe, doc)
    return doc


@pytest.mark.parametrize(
    ("logon", "reaches"),
    [("ntlm", False), ("kerberos", False), ("kerberos-delegated", True), ("credssp", True)],
)
def test_a_share_refuses_a_session_without_network_credentials(logon: str, reaches: bool) -> None:
    c = _with(session={"logon": logon})
    vm = c.vm(SMB_VM)
    info = _answer(c, vm.owner, "path_info", {"path": vm.folder})
    assert info["exists"] is reaches
    assert info["access_denied"] is (not reaches)
    details = _answer(c, vm.owner, "vm_details", {"vm_id": vm.vm_id})["vm"]
    assert details["saved_state_listing"] == ("listed" if reaches else "denied")
    assert bool(details["saved_state_files"]) is reaches
    # A local path is the session's own: no second hop.
    local = _answer(c, vm.owner, "path_info", {"path": "C:\\ClusterStorage\\Volume1"})
    assert local["exists"] and not local["access_denied"]


def test_a_transport_sets_the_logon_per_session() -> None:
    c = _with(session={"logon": "credssp"})
    vm = c.vm(SMB_VM)
    ntlm = LabSession().with_logon("ntlm")
    info = _answer(c, vm.owner, "path_info", {"path": vm.folder}, session=ntlm)
    assert info["access_denied"]
    with pytest.raises(ValueError, match="unknown logon"):
        LabSession().with_logon("basic-ish")


def test_integration_services_are_localized_and_keyed_by_component_id() -> None:
    c = _with(locale="de-DE")
    vm = c.vm("web 01")
    doc = _answer(c, vm.owner, "vm_details", {"vm_id": vm.vm_id})
    names = {s["name"] for s in doc["vm"]["integration_services"]}
    assert "Time Synchronization" not in names and "Zeitsynchronisierung" in names
    details = VmDetails.from_doc(doc)
    assert details.time_sync_enabled is True and details.time_sync_status == "OK"
    sync = next(
        s for s in doc["vm"]["integration_services"] if s["component_id"] == TIME_SYNC_COMPONENT_ID
    )
    assert sync["operational_status"] == "Ok"


def test_constrained_language_refuses_every_probe_with_the_cause_and_the_fix() -> None:
    c = _with(session={"language_mode": "ConstrainedLanguage"})
    with pytest.raises(ConstrainedLanguageError, match=r"ConstrainedLanguage mode.*Fix:"):
        LabResponder(c).answer("HV-A", "host_info", {})


def test_event_records_may_carry_extra_properties() -> None:
    c = _with(event_extra_properties=2)
    c.move_vms(["web 01"], "HV-B" if c.vm("web 01").owner != "HV-B" else "HV-A")
    advance(c, 600)
    node = c.vm("web 01").history[0].source
    doc = _answer(
        c,
        node,
        "cluster_events",
        {"since_utc": "2000-01-01T00:00:00Z", "queries": queries([1204])},
    )
    assert doc["events"] and all(len(e["properties"]) == 3 for e in doc["events"])


def test_a_save_to_a_share_or_a_redirected_csv_crosses_the_cluster_networks() -> None:
    def redirected(data: dict[str, Any]) -> None:
        for csv in data["storage"]["csvs"]:
            csv["redirected"] = True

    for c, name in (
        (make_lab(), SMB_VM),
        (make_lab(edit=redirected), "web 01"),
        (make_lab(), "web 01"),
    ):
        vm = c.vm(name)
        source = vm.owner
        before = c.node(source).sent_bytes
        c.move_vms([name], next(n for n in ("HV-A", "HV-B", "HV-C") if n != source))
        advance(c, 600)
        sent = c.node(source).sent_bytes - before
        crosses = name == SMB_VM or c.topology.csvs[0].redirected
        coordinator = next(n.name for n in c.nodes.values() if n.member and n.state == "Up")
        if crosses and not (name != SMB_VM and source == coordinator):
            assert sent >= vm.memory_bytes, (name, sent)
        elif not crosses:
            assert sent < vm.memory_bytes, (name, sent)
