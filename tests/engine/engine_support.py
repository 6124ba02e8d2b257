"""Kept only for test modules that still ``from engine_support import ...``: the helpers live in
``support.engine`` (and ``support.paths``). Import from there; delete this file once nothing imports it."""

from __future__ import annotations

from support.engine import CLEAN_SCAN, YES, AwsState, deploy, push_test_image, record_clean_build
from support.paths import REPO_ROOT

__all__ = ["CLEAN_SCAN", "REPO_ROOT", "YES", "AwsState", "deploy", "push_test_image", "record_clean_build"]
