"""Safety of a run: guard, cluster lock, journal, interrupts, restoration, recovery, redaction."""
