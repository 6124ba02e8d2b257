"""Shared test helpers, one module per layer (importable as ``support.*``: tests/ is on sys.path via its conftest).

* ``support.paths``   REPO_ROOT, REPO_CONFIG
* ``support.cli``     run_invoke(): the real ``invoke`` CLI in a subprocess (cwd, config, env, drop_env, drop_prefixes)
* ``support.configs`` config_variant(): a copy of the shipped envpromote.toml with a change applied
* ``support.engine``  YES, CLEAN_SCAN, push_test_image(), record_clean_build(), deploy(), AwsState
* the sandbox fixtures (``sandbox_server``, ``sandbox``) live in tests/conftest.py; their objects in
  ``envpromote.sandbox.testing``
"""
