"""Self-tests of the audit scenarios: each claim's scenarios can fail, and pass on a clean lab."""
