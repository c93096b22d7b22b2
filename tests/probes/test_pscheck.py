"""pscheck: syntax errors, write verbs and cluster-hive writes found from the syntax tree."""

from __future__ import annotations

import re

import pytest

from harness.probes.lint import parse_errors, write_verbs, writes_cluster_hive


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("if ($a) { 1 ", "1:12"),
        ("Get-Date\nif $a { 1 }", "2:1"),
        ("$x = 'abc", "1:1"),
        ('Write-Output "abc', "1:1"),
        ("Get-Process |", "1:1"),
        ("Get-Date\nfunction f { ", "2:"),
        ("foreach ($x in $y) { ", "1:21"),
        ("$h = @{ a = 1 ", "1:"),
        ("Get-X -P (1 + ", "1:"),
    ],
)
def test_broken_powershell_is_reported_with_position(text: str, where: str) -> None:
    errors = parse_errors(text)
    assert errors
    assert all(re.match(r"\d+:\d+: ", e) for e in errors)
    assert any(e.startswith(where) for e in errors), errors


@pytest.mark.parametrize(
    "text",
    [
        "$args = @{ Name = 'x'; Wait = 0 }\nMove-Thing @args -Quick",
        "$s = @'\nliteral $(not code)\n'@\n$t = @\"\nexpanded $($x.Name)\n\"@",
        "$d = [ordered]@{ a = @(1); b = '{0:N2}' -f 3.14159 }",
        "Get-ChildItem `\n    -Force",
        "try { Get-X } catch { if ($_.FullyQualifiedErrorId -notlike 'X*') { throw } }",
        "$guid = [guid]::Empty\n[guid]::TryParse('x', [ref]$guid)",
        "Sort-Object -Property @('A', 'B')",
        "$name = 'Léa''s VM ☃'\nWrite-Verbose $name",
    ],
)
def test_valid_powershell_has_no_errors(text: str) -> None:
    assert parse_errors(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Set-Item -Path x -Value 1", ["Set-Item"]),
        ("Get-ChildItem | Remove-Item", ["Remove-Item"]),
        ("Get-X | ForEach-Object { Stop-Service foo }", ["Stop-Service"]),
        ("foreach ($v in $vms) { Start-VM $v }", ["Start-VM"]),
        ("$items = @(foreach ($i in $x) { Remove-Item $i })", ["Remove-Item"]),
        ("$sb = { New-Item x }", ["New-Item"]),
        (
            "if ($a) { Set-ItemProperty -Path HKLM:\\Software\\X -Name a -Value 1 }",
            ["Set-ItemProperty"],
        ),
        ('$x = "$(Remove-Item foo)"', ["Remove-Item"]),
        ("Invoke-CimMethod -ClassName X -MethodName Y", ["Invoke-CimMethod"]),
        ("Invoke-WmiMethod -Class X -Name Y", ["Invoke-WmiMethod"]),
        ("Suspend-ClusterNode -Name a -Drain", ["Suspend-ClusterNode"]),
        ("Resume-ClusterNode -Name a", ["Resume-ClusterNode"]),
        ("Move-ClusterGroup -Name a -Wait 0", ["Move-ClusterGroup"]),
        ("rm foo", ["rm"]),
        ("reg add HKLM\\Software\\X /v a /d 1 /f", ["reg add"]),
        ("reg.exe delete HKLM\\Software\\X /f", ["reg.exe delete"]),
        ("C:\\Windows\\System32\\reg.exe add HKLM\\X", ["C:\\Windows\\System32\\reg.exe add"]),
        (
            "[Microsoft.Win32.Registry]::SetValue('HKEY_LOCAL_MACHINE\\Software\\X', 'a', 1)",
            [".SetValue()"],
        ),
        (
            "$k = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('Software', $true)",
            [".OpenSubKey(..., writable)"],
        ),
        ("$w = Get-WmiObject X\n$w.Put()", [".Put()"]),
        ("Get-X | % { $_.Delete() }", [".Delete()"]),
        ("& 'Set-Item' -Path x", ["& Set-Item (invoked through a string)"]),
        ('& "Remove-Item" x', ["& Remove-Item (invoked through a string)"]),
        ("& Remove-Item x", ["Remove-Item"]),
        ("Invoke-Expression $text", ["Invoke-Expression"]),
    ],
)
def test_write_verbs_are_found(text: str, expected: list[str]) -> None:
    assert write_verbs(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "# Set-Item -Path x",
        "<# Remove-Item -Recurse C:\\ #>\nGet-Date",
        "Write-Verbose 'Set-Item is a write verb'",
        '$s = "Remove-Item $x"',
        '$h = @"\nNew-Item x\n"@',
        "Get-Help Set-Item",
        "reg query HKLM\\Cluster",
        "$k.OpenSubKey('Software')",
        "$k.OpenSubKey([string]::Concat('Soft', 'ware'))",
        "Get-ItemProperty -LiteralPath 'HKLM:\\Cluster\\Resources'",
        "Get-VM | Where-Object { $_.State -eq 'Running' } | Sort-Object -Property Name",
        "$list.Add(1)",
        "Invoke-Command -VMName $n -Credential $c -ScriptBlock {\n"
        "    Get-Item -LiteralPath 'HKLM:\\SOFTWARE'\n}",
    ],
)
def test_mentions_are_not_write_verbs(text: str) -> None:
    assert write_verbs(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Set-ItemProperty -Path 'HKLM:\\Cluster\\Resources\\x' -Name a -Value 1",
        "New-ItemProperty -LiteralPath HKLM:\\Cluster -Name a -Value 1",
        "Remove-Item -Path 'Registry::HKEY_LOCAL_MACHINE\\Cluster\\Resources\\x' -Recurse",
        "reg add HKLM\\Cluster\\Resources /v a /d 1 /f",
        "$p = 'HKLM:\\Cluster\\Resources'\nSet-ItemProperty -Path $p -Name a -Value 1",
        "Set-Location hklm:\\cluster\nNew-ItemProperty -Path . -Name a -Value 1",
        "$k = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('Cluster\\Resources', $true)\n"
        "$k.SetValue('a', 1)",
        "[Microsoft.Win32.Registry]::SetValue('HKEY_LOCAL_MACHINE\\Cluster', 'a', 1)",
        "Get-ClusterResource x | Set-ClusterParameter -Name OfflineAction -Value 0",
        "foreach ($r in $rs) {\n"
        "    & 'Remove-ItemProperty' -Path \"HKLM:\\Cluster\\Resources\\$r\" -Name x\n}",
    ],
)
def test_cluster_hive_writes_are_found(text: str) -> None:
    assert writes_cluster_hive(text)


@pytest.mark.parametrize(
    "text",
    [
        "Get-ItemProperty -LiteralPath 'HKLM:\\Cluster\\Resources\\x'",
        "Test-Path -LiteralPath 'HKLM:\\Cluster'",
        "Set-ItemProperty -Path HKLM:\\Software\\Contoso -Name a -Value 1",
        "Set-ItemProperty -Path 'HKLM:\\ClusterX' -Name a -Value 1",
        "# Set-ItemProperty HKLM:\\Cluster\nGet-Date",
        "# reads HKLM:\\Cluster only\nSet-ItemProperty -Path HKLM:\\Software\\X -Name a -Value 1",
        "Write-Verbose 'Set-ItemProperty HKLM:\\Cluster'",
        "Move-ClusterVirtualMachineRole -Name a -MigrationType Quick -Wait 0",
    ],
)
def test_reads_and_other_keys_are_not_cluster_hive_writes(text: str) -> None:
    assert not writes_cluster_hive(text)
