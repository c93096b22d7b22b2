"""WinRMDriver over fake sessions: validation, failures, records, redaction, node addressing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.drivers.base import ProbeRecord, sha256_text
from harness.drivers.winrm import WinRMDriver, redact_params
from harness.errors import HarnessError, ProbeFailedError, ProbeOutputError
from harness.transport import Endpoint, ScriptResult

DOC = {
    "node": "HV1",
    "host_utc": "2026-11-27T22:45:46.123456Z",
    "exists": True,
    "is_directory": True,
    "resolved_path": "C:\\ClusterStorage\\Volume1",
    "smb": None,
}


class FakeSession:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.results: list[ScriptResult] = []
        self.calls: list[tuple[str, bool]] = []
        self.closed = False

    def run_script(self, text: str, *, idempotent: bool = False) -> ScriptResult:
        self.calls.append((text, idempotent))
        return self.results.pop(0)

    def close(self) -> None:
        self.closed = True


def _driver() -> tuple[WinRMDriver, dict[str, FakeSession]]:
    sessions: dict[str, FakeSession] = {}

    def factory(endpoint: Endpoint) -> Any:
        sessions[endpoint.node] = FakeSession(endpoint)
        return sessions[endpoint.node]

    endpoints = [
        Endpoint(node=n, host=f"{n.lower()}.example", username="u", password="Drv-Pass-55")
        for n in ("HV1", "HV2")
    ]
    return WinRMDriver(endpoints, session_factory=factory), sessions


def test_document_validated_and_recorded() -> None:
    driver, sessions = _driver()
    seen: list[ProbeRecord] = []
    driver.listeners.append(seen.append)
    text = json.dumps(DOC) + "\r\n"
    sessions["HV1"].results.append(ScriptResult(0, text, ""))
    doc = driver.run_probe("path_info", {"path": "C:\\ClusterStorage\\Volume1"})
    assert doc == DOC
    script, idempotent = sessions["HV1"].calls[0]
    assert script.startswith("# qmaudit-probe: path_info\n") and idempotent is True
    (record,) = driver.transcript
    assert seen == [record]
    assert (record.probe, record.node, record.document, record.error) == (
        "path_info",
        "HV1",
        DOC,
        None,
    )
    assert record.output_sha256 == sha256_text(text)
    assert record.params == {"path": "C:\\ClusterStorage\\Volume1"}


def test_action_probes_are_not_marked_idempotent_and_failure_message_surfaces() -> None:
    driver, sessions = _driver()
    stderr = (
        "The cluster node was not found (Win32 error 5042)\nAt line:9 char:5\n+ throw $m\n"
        "    + CategoryInfo          : OperationStopped: (:) [], RuntimeException"
    )
    sessions["HV2"].results.append(ScriptResult(1, "", stderr))
    with pytest.raises(ProbeFailedError) as info:
        driver.run_probe("move_vm", {"vm_names": ["vm1"], "node": "X", "method": "vm_role"}, "hv2")
    assert info.value.target_message == "The cluster node was not found (Win32 error 5042)"
    assert (info.value.probe, info.value.node, info.value.probe_exit_code) == ("move_vm", "HV2", 1)
    assert sessions["HV2"].calls[0][1] is False
    assert driver.transcript[-1].error == str(info.value)
    assert driver.transcript[-1].document is None


@pytest.mark.parametrize(
    "stdout", ["", '{"node": "HV1", "host_utc": "2026-11', "WARNING: not json", "[1, 2]", "{} {}"]
)
def test_bad_output_is_probe_output_error(stdout: str) -> None:
    driver, sessions = _driver()
    sessions["HV1"].results.append(ScriptResult(0, stdout, ""))
    with pytest.raises(ProbeOutputError):
        driver.run_probe("path_info", {"path": "x"})
    assert driver.transcript[-1].output_sha256 == sha256_text(stdout)


def test_schema_mismatch_is_probe_output_error_naming_the_path() -> None:
    driver, sessions = _driver()
    sessions["HV1"].results.append(ScriptResult(0, json.dumps({**DOC, "exists": "yes"}), ""))
    with pytest.raises(ProbeOutputError) as info:
        driver.run_probe("path_info", {"path": "x"})
    assert "exists" in info.value.json_path


def test_unknown_probe_fails_without_touching_the_node() -> None:
    driver, sessions = _driver()
    with pytest.raises(ProbeFailedError, match="no_such_probe"):
        driver.run_probe("no_such_probe")
    assert sessions["HV1"].calls == [] and len(driver.transcript) == 1


def test_unknown_node_and_case_insensitive_names() -> None:
    driver, sessions = _driver()
    assert driver.nodes == ["HV1", "HV2"]
    with pytest.raises(HarnessError, match="HV9"):
        driver.run_probe("path_info", {"path": "x"}, "HV9")
    sessions["HV2"].results.append(ScriptResult(0, json.dumps(DOC), ""))
    driver.run_probe("path_info", {"path": "x"}, "hv2")
    assert len(sessions["HV2"].calls) == 1


def test_secret_params_masked_in_records_and_messages() -> None:
    driver, sessions = _driver()
    sessions["HV1"].results.append(ScriptResult(1, "", "bad password Guest-Pw-321 for guest"))
    params = {"vm_name": "vm1", "guest_user": "adm", "guest_password": "Guest-Pw-321"}
    with pytest.raises(ProbeFailedError) as info:
        driver.run_probe("guest_clock", params)
    assert "Guest-Pw-321" not in str(info.value)
    record = driver.transcript[-1]
    assert record.params == {"vm_name": "vm1", "guest_user": "adm", "guest_password": "********"}
    assert "Guest-Pw-321" not in (record.error or "")


def test_redact_params_nested() -> None:
    assert redact_params({"a": [{"Credential": "x"}, "y"], "token": 5}) == {
        "a": [{"Credential": "********"}, "y"],
        "token": "********",
    }


def test_close_closes_every_session_and_duplicates_are_refused() -> None:
    driver, sessions = _driver()
    driver.close()
    assert all(s.closed for s in sessions.values())
    ep = Endpoint(node="HV1", host="h", username="u", password="Drv-Pass-55")
    with pytest.raises(HarnessError, match="two endpoints"):
        WinRMDriver([ep, ep], session_factory=FakeSession)  # type: ignore[arg-type]
