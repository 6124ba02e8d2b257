"""The release board in a real headless Chromium, generated from a sandbox ledger and sandbox ECS services.

The sandbox gets the story of board_records.py through the Ledger API (A and B reached production, C was rolled
back by ECS in staging, B was rolled back by hand in production) and ECS services that run what the story says
(dev's rollout of C is stuck, so the board must show a rollout in progress); production holds the lock.

Needs Debian's ``chromium`` and the ``playwright`` package (no browser download: the tests launch
/usr/bin/chromium, or $ENVPROMOTE_CHROMIUM). Without them the tests skip with a loud reason, or fail when
ENVPROMOTE_REQUIRE_BROWSER=1 (CI). Screenshots go to .envpromote/artifacts/board/ (or
$ENVPROMOTE_ARTIFACTS/board) for CI to keep.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from board_records import REPO, A, B, C, story

from envpromote.aws import ClientFactory
from envpromote.board.generate import Generated, generate
from envpromote.config import Config, load_config
from envpromote.ledger import Ledger
from envpromote.lock import EnvironmentLock
from envpromote.sandbox.scenarios import SCENARIO_TAG
from envpromote.sandbox.testing import Sandbox

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ENVPROMOTE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("ENVPROMOTE_ARTIFACTS", REPO_ROOT / ".envpromote" / "artifacts")) / "board"

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - reported loudly below
    sync_playwright = None  # type: ignore[assignment]

if sync_playwright is None or not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
    _MISSING = (
        "BROWSER TESTS SKIPPED: the release board's browser tests need Debian's chromium at "
        f"{CHROMIUM} (apt-get install -y chromium) and the playwright package (pip install playwright; never "
        "'playwright install'). CI must install both."
    )
    if (
        os.environ.get("ENVPROMOTE_REQUIRE_BROWSER") == "1"
    ):  # CI sets it: a missing browser is a failure there
        pytest.fail(_MISSING.replace("SKIPPED", "CANNOT RUN"), pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)


def _run(ecs: Any, config: Config, env_name: str, digest: str, scenario: str) -> None:
    """Make ECS run `digest` in `env_name` (a new PRIMARY deployment whose rollout follows `scenario`)."""
    env = config.env(env_name)
    arn = ecs.register_task_definition(
        family=env.family,
        containerDefinitions=[
            {"name": env.container, "image": f"{REPO}@{digest}", "essential": True, "memory": 256}
        ],
        tags=[{"key": SCENARIO_TAG, "value": scenario}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=env.cluster, service=env.service, taskDefinition=arn)


@dataclass
class Site:
    generated: Generated
    index: Path
    bucket: str


@pytest.fixture
def site(sandbox: Sandbox, tmp_path: Path) -> Site:
    config = load_config(sandbox.config_path)
    factory = ClientFactory("us-east-1")
    ledger = Ledger(factory.client("s3"), config.ledger)
    scan = {"counts": {"CRITICAL": 0, "HIGH": 2, "MEDIUM": 5, "LOW": 9}, "partial": False}
    for records in story().values():
        for record in records:
            ledger.append({**record, "scan": scan if record["digest"] == A else None})
    ecs = factory.client("ecs")
    _run(ecs, config, "dev", C, "stuck")
    _run(ecs, config, "staging", B, "healthy:1")
    _run(ecs, config, "production", A, "healthy:1")
    EnvironmentLock(factory.client("dynamodb"), config.lock).acquire("production", "gh-run-77")
    generated = generate(config, tmp_path / "board")
    return Site(generated=generated, index=generated.site.index, bucket=config.ledger.bucket)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def _page(browser: Browser, *, width: int = 1280, javascript: bool = True) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=javascript)
    return context.new_page()


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_each_column_shows_the_digest_that_runs(site: Site, browser: Browser) -> None:
    page = _page(browser)
    page.goto(site.index.as_uri())
    expect(page).to_have_title("Chain \u00b7 envpromote-demo release board")
    for env, digest in (("dev", C), ("staging", B), ("production", A)):
        column = page.get_by_role("region", name=env, exact=True)
        expect(column.locator("dd.running")).to_have_text(f"sha256:{digest[7:19]}")
    production = page.get_by_role("region", name="production", exact=True)
    expect(production).to_contain_text("Locked by gh-run-77")
    expect(production).to_contain_text("rolled back by carol")  # A runs again because of the manual rollback
    expect(production).to_contain_text("0 critical, 2 high, 5 medium")
    expect(production).to_contain_text("No drift")
    expect(page.get_by_role("region", name="dev", exact=True)).to_contain_text("Rollout in progress")
    for landmark in ("banner", "main", "contentinfo"):
        expect(page.get_by_role(landmark)).to_have_count(1)
    expect(page.get_by_role("navigation", name="Site")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("What runs where")
    _shot(page, "index-desktop")


def test_rolled_back_releases_are_marked_in_words(site: Site, browser: Browser) -> None:
    page = _page(browser)
    page.goto(site.index.as_uri())
    table = page.get_by_role("table", name="Releases that ECS or a person rolled back, newest first")
    staging_row = table.get_by_role("row").filter(has_text="staging")
    expect(staging_row).to_contain_text("Rolled back")
    expect(staging_row).to_contain_text("ECS deployment circuit breaker: tasks failed to start.")
    production_row = table.get_by_role("row").filter(has_text="production")
    expect(production_row).to_contain_text("later rolled back by #3")
    expect(production_row).to_contain_text("manual rollback: error rate up after B")
    path_c = page.get_by_role("list", name=f"Path of sha256:{C[7:19]} through the chain")
    steps = path_c.get_by_role("listitem")
    expect(steps).to_have_count(4)  # built, dev, staging, production
    expect(steps.nth(2)).to_contain_text(re.compile(r"staging\s+\S\s+Rolled back"))
    expect(steps.nth(3)).to_contain_text(re.compile(r"production\s+\S\s+Not reached"))


def _tab_to(page: Page, text: str, limit: int = 150) -> None:
    """Press Tab until the focused element's text is exactly `text` (what a keyboard user does)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement ? document.activeElement.textContent : ''")
        if (focused or "").strip() == text:
            return
    raise AssertionError(f"no focusable element with {text!r} within {limit} Tab presses")


def test_keyboard_alone_reaches_a_rolled_back_release(site: Site, browser: Browser) -> None:
    page = _page(browser)
    page.goto(site.index.as_uri())
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_id("main")
    _tab_to(page, "staging history (3 releases)")
    page.keyboard.press("Enter")
    expect(page).to_have_url(site.index.parent.joinpath("env", "staging.html").as_uri())
    expect(page.get_by_role("heading", level=1)).to_have_text("staging history")
    _tab_to(page, "3")  # the first row: release #3, the one ECS rolled back
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("staging release #3: promote of")
    expect(page.locator("p.outcome")).to_contain_text("Rolled back")
    expect(page.get_by_role("list").filter(has_text="circuit breaker")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text(f"s3://{site.bucket}/releases/envs/staging/")
    _shot(page, "release-rolled-back")


def test_history_filters_work_with_and_without_javascript(site: Site, browser: Browser) -> None:
    page = _page(browser)
    page.goto(site.index.parent.joinpath("env", "production.html").as_uri())
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(3)
    page.get_by_label("Approver").select_option("bob")
    expect(page.locator("table.history tbody tr:visible")).to_have_count(1)
    expect(page.get_by_role("status")).to_have_text("1 of 3 releases shown")
    page.get_by_label("Approver").select_option("")
    page.get_by_label("Digest").fill(A[7:15])
    expect(page.locator("table.history tbody tr:visible")).to_have_count(2)
    _shot(page, "history-filtered")

    static = _page(browser, javascript=False)
    static.goto(site.index.parent.joinpath("env", "staging.html").as_uri())
    expect(static.locator("form.filters")).to_be_hidden()
    expect(static.locator("table.history tbody tr:visible")).to_have_count(3)
    static.get_by_role("navigation", name="Filter by outcome").get_by_role("link", name="rolled back").click()
    expect(static.locator("table.history tbody tr")).to_have_count(1)
    expect(static.get_by_role("heading", level=1)).to_have_text("staging history: rolled back only")


def test_readable_on_a_phone(site: Site, browser: Browser) -> None:
    page = _page(browser, width=390)
    page.goto(site.index.as_uri())
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the front page scrolls sideways by {overflow}px on a 390px-wide phone"
    expect(page.get_by_role("region", name="production", exact=True).locator("dd.running")).to_be_visible()
    _shot(page, "index-phone")
