"""Collects every scenario of the feature files in this folder."""

import sys

import pytest
from pytest_bdd import scenarios

if "steps.common" not in sys.modules:
    # The qmaudit plugin registers the step modules only once a target is given.
    raise pytest.UsageError(
        "the qmaudit scenarios need a target: pytest features --qm-target lab "
        "(or qm_target = lab in the ini file); `pytest --help` lists the target kinds"
    )

scenarios(".")
