"""The audit scenarios: Gherkin feature files (package data) and the module collecting them."""
