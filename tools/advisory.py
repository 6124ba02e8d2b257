"""Is PyPI's advisory data reachable and truthful? ``.ci/run`` and ``nox -s audit`` ask before pip-audit runs.

``python -m tools.advisory`` exits 0 when the advisory service answers truthfully, 1 otherwise, printing
the reason. Standard library only: ``.ci/run`` runs it with the system ``python3`` before any venv exists.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

ADVISORY_CANARY_URL = "https://pypi.org/pypi/requests/2.19.0/json"
ADVISORY_CANARY_ID = "CVE-2018-18074"


def advisory_service_reachable(url: str = ADVISORY_CANARY_URL, *, timeout_s: float = 5.0) -> tuple[bool, str]:
    """Whether PyPI's vulnerability data answers truthfully (what pip-audit relies on), with the reason.

    It asks for a release with a known advisory (requests 2.19.0, CVE-2018-18074): a mirror that answers
    with no vulnerabilities, or no per-release data, would make pip-audit pass falsely, so it counts as
    unreachable.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - fixed https URL
            payload = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered HTTP {exc.code}: no per-release advisory data"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return False, f"{url} is unreachable: {exc}"
    except (ValueError, UnicodeDecodeError):
        return False, f"{url} did not answer with JSON"
    vulnerabilities = payload.get("vulnerabilities") if isinstance(payload, dict) else None
    if not isinstance(vulnerabilities, list):
        return False, f"{url} answered without a vulnerabilities list"
    known = any(
        ADVISORY_CANARY_ID in [item.get("id"), *(item.get("aliases") or [])]
        for item in vulnerabilities
        if isinstance(item, dict)
    )
    if not known:
        return (
            False,
            f"{url} did not report the known advisory {ADVISORY_CANARY_ID}: its data is not trustworthy",
        )
    return True, f"{url} reports {ADVISORY_CANARY_ID}: the advisory service answers"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.advisory", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=ADVISORY_CANARY_URL, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    reachable, reason = advisory_service_reachable(args.url)
    print(f"advisory service {'reachable' if reachable else 'UNREACHABLE'}: {reason}")
    return 0 if reachable else 1


if __name__ == "__main__":
    sys.exit(main())
