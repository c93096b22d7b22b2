"""The step functions of the Gherkin scenarios: parse the step, delegate to harness/."""
