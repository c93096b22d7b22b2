"""Probes: the PowerShell scripts, the protocol that carries them and their offline lint."""
