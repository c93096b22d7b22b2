"""Shared-storage classification: asks the cluster's volumes, never trusts a prefix."""

from __future__ import annotations

import pytest

from harness.domain.storage import SharedStorage, is_unc, is_under, normalise

SHARED = SharedStorage.from_inventory(
    ["C:\\ClusterStorage\\Volume1"],
    [("E:\\", "db01"), ("F:\\", "other")],
    "db01",
    smb_roots=["\\\\FS1\\VMs\\app\\Virtual Machines"],
    nodes=["HV-A", "hv-b.corp.example"],
)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("C:\\ClusterStorage\\Volume1\\web\\x.vmrs", "CSV"),
        ("c:/clusterstorage/volume1/web/x.vmrs", "CSV"),
        ("C:\\ClusterStorage\\Volume1", "CSV"),
        ("C:\\ClusterStorage\\Volume1-old\\web\\x.vmrs", "local"),
        ("C:\\ClusterStorage\\Volume10\\x.vmrs", "local"),
        ("C:\\ClusterStorageX\\Volume1\\x", "local"),
        ("E:\\db01\\Virtual Machines\\a.vmrs", "Cluster Disk"),
        ("F:\\vm\\a.vmrs", "local"),  # a Cluster Disk of another group is not this VM's
        ("\\\\FS1\\VMs\\app\\a.vmrs", "SMB 3"),
        ("\\\\?\\C:\\ClusterStorage\\Volume1\\x", "CSV"),
        ("\\\\?\\UNC\\fs1\\vms\\other\\a.vmrs", "SMB 3"),
        ("\\\\FS1\\VMs\\\\app\\\\", "SMB 3"),
        ("C:\\ClusterStorage\\Volume1\\\\web\\", "CSV"),
        ("\\\\HV-A\\C$\\ClusterStorage\\Volume1\\x.vmrs", "local"),  # admin share
        ("\\\\hv-a.corp.example\\VMs\\x.vmrs", "local"),  # served by a node
        ("\\\\HV-B\\VMs\\x.vmrs", "local"),
        ("\\\\FS2\\VMs\\x.vmrs", "local"),  # a share nobody declared for this VM
        ("C:\\CLUSTE~1\\Volume1\\x.vmrs", "unresolved"),
        ("C:\\CLUSTE~1\\VOLUME~1\\x.vmrs", "unresolved"),
        ("C:\\VMSOLD~1\\x.vmrs", "local"),  # no shared root could be spelled so
        ("\\\\FS1", "local"),
        ("D:\\VMs\\a.vmrs", "local"),
    ],
)
def test_classify(path: str, kind: str) -> None:
    assert SHARED.classify(path) == kind
    assert SHARED.is_shared(path) == (kind not in ("local", "unresolved"))


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("C:\\A\\B", "C:\\A", True),
        ("C:\\AB", "C:\\A", False),
        ("C:\\A", "C:\\A\\", True),
        ("C:\\A", "", False),
    ],
)
def test_is_under(path: str, root: str, expected: bool) -> None:
    assert is_under(path, root) is expected


def test_is_unc() -> None:
    assert is_unc("\\\\server\\share\\x")
    assert not is_unc("\\\\.\\pipe\\x")
    assert not is_unc("C:\\x")


@pytest.mark.parametrize(
    ("path", "normal"),
    [
        ("\\\\?\\C:\\A\\\\B\\", "c:\\a\\b"),
        ("\\\\?\\UNC\\Srv\\Share\\x", "\\\\srv\\share\\x"),
        ("//srv/share/", "\\\\srv\\share"),
        ("C:/A/b/", "c:\\a\\b"),
    ],
)
def test_normalise(path: str, normal: str) -> None:
    assert normalise(path) == normal


@pytest.mark.parametrize(
    ("said", "kind"),
    [
        (None, "SMB 3"),  # no node was asked: the VM's own share stands as declared
        (True, "SMB 3"),
        (False, "SMB not CA"),  # the node's connections are not continuously available
        ("unknown", "unresolved"),  # asked, but the node had no connection to tell
    ],
)
def test_an_smb_share_is_shared_only_if_continuously_available(
    said: bool | str | None, kind: str
) -> None:
    path = "\\\\fs1\\VMs\\app\\Virtual Machines\\x.vmrs"
    shared = SHARED
    if said is not None:
        value = None if said == "unknown" else said
        shared = SHARED.with_availability({"\\\\FS1\\vms\\app": value})
    assert shared.classify(path) == kind
    assert shared.is_shared(path) is (kind == "SMB 3")
    # Only that share is concerned: a CSV path and a foreign share are judged as before.
    assert shared.classify("C:\\ClusterStorage\\Volume1\\x") == "CSV"
    assert shared.classify("\\\\FS2\\VMs\\x.vmrs") == "local"
