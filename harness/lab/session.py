"""LabSession: who a remote session is on a lab node and how it runs (logon, locale, language).

Windows decides what a probe can see by the session, not by the cluster: a WinRM session from an
NTLM network logon, or from Kerberos without delegation, holds no credentials for a second hop,
so a probe's Test-Path or Get-ChildItem on \\\\server\\share is refused although Hyper-V itself
reaches the share with the computer account; Kerberos with delegation and CredSSP carry them
("Making the second hop in PowerShell Remoting"). Names and status texts of integration services
follow the host's locale. A host locked down by WDAC or AppLocker runs remote sessions in
ConstrainedLanguage. Sources: docs/windows-fidelity.md.

A topology chooses the session (`session: {logon, language_mode}`, `locale:`), so tests need no
KDC; a transport that really authenticates sets the logon per session instead (`with_logon`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

LOGONS = ("ntlm", "kerberos", "kerberos-delegated", "credssp")
LANGUAGE_MODES = ("FullLanguage", "ConstrainedLanguage")
LOCALES = ("en-US", "de-DE")

# Integration services: component GUID -> display name per locale. The English names are
# Hyper-V's; the German ones are unverified (docs/windows-fidelity.md) and exist so that the
# audit is shown never to depend on a name.
SERVICE_NAMES: dict[str, dict[str, str]] = {
    "2497f4de-e9fa-4204-80e4-4b75c46419c0": {
        "en-US": "Time Synchronization",
        "de-DE": "Zeitsynchronisierung",
    },
    "84eaae65-2f2e-45f5-9bb5-0e857dc8eb47": {"en-US": "Heartbeat", "de-DE": "Takt"},
    "2a34b1c2-fd73-4043-8a5b-dd2159bc743f": {
        "en-US": "Key-Value Pair Exchange",
        "de-DE": "Austausch von Schlüsselwertepaaren",
    },
}
# PrimaryStatusDescription per PrimaryOperationalStatus enum name and locale.
STATUS_TEXT: dict[str, dict[str, str]] = {
    "Ok": {"en-US": "OK", "de-DE": "OK"},
    "NoContact": {"en-US": "No Contact", "de-DE": "Kein Kontakt"},
}
# What the bootstrap says when the session is not FullLanguage (harness/probes/lib/bootstrap.ps1).
CONSTRAINED_MESSAGE = (
    "qmaudit: this session runs in {mode} mode (WDAC or AppLocker policy on {node}); the probes "
    "need FullLanguage. Fix: audit from an account and endpoint in FullLanguage (a JEA or "
    "session configuration allowed by the policy), or exempt the audit account."
)


class ConstrainedLanguageError(ValueError):
    """The bootstrap's refusal in a session that is not FullLanguage (its exact text)."""


@dataclass(frozen=True)
class LabSession:
    """One remote session's identity and environment as a lab node sees it."""

    # The lab's default audit account is trusted for delegation (resource-based Kerberos
    # constrained delegation to the file server), so the SMB 3 scenarios can look; a topology
    # chooses ntlm or kerberos to see what an account without it gets.
    logon: str = "kerberos-delegated"
    locale: str = "en-US"
    language_mode: str = "FullLanguage"
    # Properties a host's event records carry beyond their message template (0: none).
    event_extra_properties: int = 0

    @property
    def network_credentials(self) -> bool:
        """Whether a probe can reach another machine as the user (the second hop)."""
        return self.logon in ("kerberos-delegated", "credssp")

    @property
    def full_language(self) -> bool:
        """Whether scripts may use every language element ([ScriptBlock]::Create, ::new())."""
        return self.language_mode == "FullLanguage"

    def with_logon(self, logon: str) -> LabSession:
        """The same session as a transport authenticated it (ntlm, kerberos, credssp...)."""
        if logon not in LOGONS:
            raise ValueError(f"unknown logon {logon!r} (one of {', '.join(LOGONS)})")
        return replace(self, logon=logon)

    def service_name(self, component_id: str) -> str:
        """The display name of an integration service in this session's locale."""
        names = SERVICE_NAMES[component_id]
        return names.get(self.locale, names["en-US"])

    def status_text(self, operational: str | None) -> str | None:
        """PrimaryStatusDescription for an operational status, in this session's locale."""
        if operational is None:
            return None
        texts = STATUS_TEXT.get(operational, {"en-US": operational})
        return texts.get(self.locale, texts["en-US"])


DEFAULT_SESSION = LabSession()
