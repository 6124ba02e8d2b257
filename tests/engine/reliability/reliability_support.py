"""Kept only for test modules that still ``from reliability_support import ...``: the helpers live in
``support.cli``, ``support.configs`` and ``support.paths``. Delete this file once nothing imports it."""

from __future__ import annotations

from support.cli import run_invoke
from support.configs import config_variant, toml_dump
from support.paths import REPO_CONFIG as SHIPPED
from support.paths import REPO_ROOT

__all__ = ["REPO_ROOT", "SHIPPED", "config_variant", "run_invoke", "toml_dump"]
