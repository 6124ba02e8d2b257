"""Security scanning with trivy: the model (:mod:`.model`), ``.trivyignore`` rules (:mod:`.ignore`),
running trivy (:mod:`.trivy`) and report formats (:mod:`.report`: table, SARIF; the SBOM is trivy's).

Importing this package loads only the light, pure model: the promotion gate reads a recorded
:class:`ScanSummary` and checks it with :func:`exceeds` without loading the scanner.
"""

from envpromote.scan.model import SEVERITIES, Finding, ScanReport, ScanSummary, exceeds, thresholds_for

__all__ = ["SEVERITIES", "Finding", "ScanReport", "ScanSummary", "exceeds", "thresholds_for"]
