"""Pseudonymiser: one pseudonym per name, whole words only, JSON-escaped spellings included."""

from __future__ import annotations

import json

from harness.capture.pseudonym import Pseudonymiser


def _p() -> Pseudonymiser:
    p = Pseudonymiser()
    p.add("cluster", ["PRODCLU"])
    p.add("node", ["HV1", "HV10", "hv1"])  # hv1 is HV1 (Windows names ignore case)
    p.add("vm", ["web 01", "O'Brien <test>", "Ünïcode"])
    p.add("host", ["hv1.corp.example"])
    p.add("domain", ["corp.example"])
    return p


def test_same_name_same_pseudonym_and_case_ignored() -> None:
    p = _p()
    assert p.name("HV1") == p.name("hv1") == "node-1"
    assert p.name("HV10") == "node-2"
    assert p.text("HV1 HV10 hv10") == "node-1 node-2 node-2"


def test_only_whole_names_are_replaced_and_longest_wins() -> None:
    p = _p()
    # HV1 inside HV1X is another word; the FQDN is a host name of its own.
    assert p.text("HV1X") == "HV1X"
    assert p.text("hv1.corp.example") == "host-1.example.invalid"
    # Another host of a known domain is a host too: its own pseudonym, not a half-renamed FQDN.
    assert p.text("other.corp.example") == "host-2.example.invalid"
    assert p.text(r"C:\ClusterStorage\Volume1\web 01\Virtual Hard Disks\web 01.vhdx") == (
        r"C:\ClusterStorage\Volume1\vm-1\Virtual Hard Disks\vm-1.vhdx"
    )


def test_json_escaped_spellings_are_replaced() -> None:
    p = _p()
    ascii_json = json.dumps({"vm": "Ünïcode", "group": "O'Brien <test>"})
    powershell = '{"vm":"O\\u0027Brien \\u003ctest\\u003e"}'
    for raw in (ascii_json, powershell):
        out = p.text(raw)
        assert "Brien" not in out and "\\u00dc" not in out.lower()
        assert json.loads(out)
    assert p.text(ascii_json) == json.dumps({"vm": "vm-3", "group": "vm-2"})


def test_values_are_walked_and_pseudonyms_are_never_replaced_again() -> None:
    p = Pseudonymiser()
    p.add("node", ["node-2", "A1"])  # a real node called node-2 must not swallow node-1's name
    doc = {"owner": "A1", "nodes": ["node-2", "A1"], "n": 3}
    assert p.value(doc) == {"owner": "node-2", "nodes": ["node-1", "node-2"], "n": 3}


def test_leaks_lists_names_left_anywhere() -> None:
    p = _p()
    assert p.leaks("all clean: node-1 vm-2") == []
    assert p.leaks("xxPRODCLUxx") == ["PRODCLU"]


def test_addresses_and_identifiers_are_replaced_consistently() -> None:
    from harness.capture.pseudonym import Pseudonymiser

    p = Pseudonymiser()
    text = (
        "10.1.2.3 fe80::1c2b:3ff:fe4d:5e6f%12 00-15-5D-01-02-03 00155D010203 "
        "S-1-5-21-1004336348-1177238915-682003330-512 1D740BFC-4580-5EB9-A7DA-C7BE74262A4C "
        "1d740bfc-4580-5eb9-a7da-c7be74262a4c 10.1.2.3"
    )
    out = p.text(text)
    assert out.split() == [
        "192.0.2.1",
        "2001:db8::1%12",
        "02-00-00-00-00-01",
        "020000000001",
        "S-1-5-21-0-0-1-512",
        "00000000-0000-4000-8000-000000000001",
        "00000000-0000-4000-8000-000000000001",
        "192.0.2.1",
    ]
    assert p.text(out) == out  # pseudonyms are never replaced again
    assert p.leaks(out) == [] and p.leaks(text)
    # What identifies no host stays: loopback, builds, times, hashes, well-known SIDs.
    keep = "127.0.0.1 ::1 10.0.20348.2031 12:34:56 S-1-5-18 " + "ab" * 32
    assert p.text(keep) == keep


def test_other_hosts_of_a_known_domain_get_pseudonyms() -> None:
    from harness.capture.pseudonym import Pseudonymiser

    p = Pseudonymiser()
    p.add("host", ["hv01.corp.example"])
    p.add("domain", ["corp.example"])
    out = p.text("hv01.corp.example reads \\\\fs2.corp.example\\vms via DC01.Corp.Example")
    assert (
        out
        == "host-1.example.invalid reads \\\\host-2.example.invalid\\vms via host-3.example.invalid"
    )
    assert p.text(out) == out and p.leaks(out) == []
