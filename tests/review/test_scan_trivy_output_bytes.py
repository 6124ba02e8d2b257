"""Review: trivy output that is not UTF-8 (a scanned file's raw name in its log) is read, not a traceback."""

from __future__ import annotations

import re
import stat
import sys
from pathlib import Path

import pytest

from envpromote.errors import PreflightFailed
from envpromote.scan.trivy import _raise_for_trivy_failure, _run_trivy


def _fake_trivy(tmp_path: Path) -> str:
    script = tmp_path / "trivy"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "sys.stdout.buffer.write(b'{\"Results\": []}')\n"
        "sys.stderr.buffer.write(b'2026-11-29T00:00:00Z\\tFATAL\\tcannot read /repo/caf\\xe9\\xff.txt\\n')\n"
        "sys.exit(1)\n",
        "utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_non_utf8_bytes_in_trivys_output_become_a_one_line_failure(tmp_path: Path) -> None:
    completed = _run_trivy(_fake_trivy(tmp_path), ["fs", "."], timeout_s=30)
    assert completed.stdout == '{"Results": []}'
    assert "caf\ufffd\ufffd.txt" in completed.stderr
    with pytest.raises(PreflightFailed, match=re.escape("cannot read /repo/caf\ufffd\ufffd.txt")):
        _raise_for_trivy_failure("fs", completed)
