"""Pure parts of the endpoint: command lines, durations, CLIXML, credentials files."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
import winrm

from harness.lab.wsman import LabCredentials, NtlmUserStore
from harness.lab.wsman.clixml import encode_text, throw_stderr
from harness.lab.wsman.shells import CommandLineError, decode_command_line
from harness.lab.wsman.soap import parse_duration
from harness.redact import redact

SCRIPT = "# qmaudit-probe: host_info\n$x = 'ü'"
B64 = base64.b64encode(SCRIPT.encode("utf-16-le")).decode()


@pytest.mark.parametrize(
    "args",
    [
        ["powershell", "-encodedcommand", B64],
        ["powershell.exe", "-EncodedCommand", B64],
        ["PowerShell.EXE", "-NoProfile", "-NonInteractive", "-enc", B64],
        ["powershell", "-e", B64],
        ["powershell", "-ec", B64],
        ["powershell", "/EncodedC", B64],
        ["powershell", "-ExecutionPolicy", "Bypass", "-en", B64],
        [r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", "-encodedCommand", B64],
    ],
)
def test_encoded_command_forms(args: list[str]) -> None:
    assert decode_command_line(args) == SCRIPT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ipconfig", "/all"], "'ipconfig' is not recognized"),
        (["powershell", "-Command", "Get-Date"], "only qmaudit probes"),
        (["powershell", "-ex", B64], "only qmaudit probes"),  # -ex is -ExecutionPolicy
        (["powershell", "-enc", "!!notbase64"], "not properly encoded"),
        (["powershell", "-enc"], "only qmaudit probes"),
        ([], "syntax of the command"),
    ],
)
def test_rejected_command_lines(args: list[str], message: str) -> None:
    with pytest.raises(CommandLineError) as info:
        decode_command_line(args)
    assert info.value.outcome.exit_code == 1
    assert message in info.value.outcome.stderr.decode()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT20S", 20), ("PT1.5S", 1.5), ("PT1M30S", 90), ("P0DT0H0M60.000S", 60), ("PT2H", 7200)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["20", "PT", "P", "PTxS", "-PT5S"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_throw_stderr_decodes_like_powershell_through_pywinrm() -> None:
    script = "$ErrorActionPreference = 'Stop'\nif ($true) {\n    throw \"VM 'a<b>&c' not found\"\n}"
    raw = throw_stderr("VM 'a<b>&c' not found", script)
    assert raw.startswith(b'#< CLIXML\r\n<Objs Version="1.1.0.1"')
    assert b"_x000D__x000A_</S>" in raw
    cleaned = winrm.Session("http://127.0.0.1:1/wsman", auth=("u", "p"))._clean_error_msg(raw)
    lines = cleaned.decode().splitlines()
    assert lines[0] == "VM 'a<b>&c' not found"
    assert lines[1] == "At line:3 char:5"
    assert lines[2] == "+     throw \"VM 'a<b>&c' not found\""
    assert "RuntimeException" in lines[4]
    assert lines[5].endswith("FullyQualifiedErrorId : VM 'a<b>&c' not found")


def test_clixml_text_encoding() -> None:
    assert encode_text("a\r\nb") == "a_x000D__x000A_b"
    assert encode_text("x_x0041_y") == "x_x005F_x0041_y"
    assert encode_text("<&>") == "&lt;&amp;&gt;"


def test_credentials_file_is_private_and_password_is_redacted(tmp_path: Path) -> None:
    creds = LabCredentials.generate()
    path = creds.write(tmp_path / "credentials.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["password"] == creds.password
    assert LabCredentials.read(path) == creds
    assert creds.password not in repr(creds)
    assert creds.password not in redact(f"oops {creds.password}")
    assert creds != LabCredentials.generate()


def test_ntlm_user_file_is_private_and_follows_registrations(tmp_path: Path) -> None:
    first, second = LabCredentials.generate(), LabCredentials.generate()
    path = NtlmUserStore.register(first, str(tmp_path))
    NtlmUserStore.register(second)
    try:
        assert os.environ["NTLM_USER_FILE"] == str(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        text = path.read_text()
        assert f"{first.domain}:{first.username}:{first.password}" in text
        assert f":{second.username}:{second.password}" in text
        NtlmUserStore.unregister(first)
        assert first.password not in path.read_text()
    finally:
        NtlmUserStore.unregister(first)
        NtlmUserStore.unregister(second)
    assert not path.exists()


def test_basic_name_forms() -> None:
    creds = LabCredentials("lab-admin-x", "pw", "QMLAB")
    assert creds.matches("lab-admin-x", "pw")
    assert creds.matches("qmlab\\LAB-ADMIN-X", "pw")
    assert creds.matches("lab-admin-x@qmlab", "pw")
    assert not creds.matches("OTHER\\lab-admin-x", "pw")
    assert not creds.matches("lab-admin-x", "PW")
