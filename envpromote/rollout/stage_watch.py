"""The watcher for blue/green, canary and linear deployments: follows OUR service deployment's lifecycle stages.

Each poll is one DescribeServiceDeployments of our service deployment (found once through ListServiceDeployments),
classified by :func:`~envpromote.rollout.stages.classify_service_deployment`:

- a stage change is a progress line (and the outcome's last ``stage``);
- a PAUSE hook awaiting action at the stage EnvPromote owns is handed to ``on_pause`` (which verifies and calls
  ContinueServiceDeployment); paused elsewhere is a note ("run `invoke continue`"), or with ``stop_at_pause``
  the outcome ``paused``;
- during BAKE_TIME (canary/linear: also while production traffic shifts in steps) ``bake_check`` runs (at most
  every ``bake_check_interval`` seconds); a failed check stops the deployment with
  StopServiceDeployment(ROLLBACK), and the next look sees ECS rolling back;
- SUCCESSFUL is success, ROLLBACK_* at any stage is a failure with ECS's reasons.

The pause and bake settings travel together as one :class:`StageOptions`.

The rollout package stays free of the verification code: the callbacks take and return plain evidence
dictionaries ``{check, result, detail}`` (the ledger's ``verification`` entries). Time comes from the Clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Unpack

from envpromote.rollout.classify import Outcome, WatchTarget
from envpromote.rollout.poll import ServiceWatcher, WatchOptions
from envpromote.rollout.progress import Progress, note
from envpromote.rollout.reasons import READ_ERRORS, error_text, is_throttle, our_service_deployment
from envpromote.rollout.stages import PausedHook, StageObservation, classify_service_deployment, short_arn_of

Evidence = Mapping[str, str]
PauseHandler = Callable[[PausedHook], Sequence[Evidence]]
BakeCheck = Callable[[], Sequence[Evidence]]
BAKE_STAGES = frozenset({"BAKE_TIME"})
# Canary and linear bake between traffic steps while in PRODUCTION_TRAFFIC_SHIFT: real users on the new revision.
SHIFTING_BAKE_STAGES = frozenset({"PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME"})


@dataclass(frozen=True)
class StageOptions:
    """What the watcher does at a PAUSE hook and while the new revision bakes; the default only watches.

    ``on_pause`` answers the hooks at ``pause_stage`` (any stage when None); another pause is a note, or with
    ``stop_at_pause`` the outcome ``paused``. ``bake_check`` runs during ``bake_stages``, at most every
    ``bake_check_interval`` seconds.
    """

    pause_stage: str | None = None
    on_pause: PauseHandler | None = None
    bake_check: BakeCheck | None = None
    bake_check_interval: float = 30.0
    bake_stages: frozenset[str] = BAKE_STAGES
    stop_at_pause: bool = False


class StageWatcher(ServiceWatcher):
    def __init__(
        self,
        ecs: Any,
        cluster: str,
        service: str,
        stages: StageOptions = StageOptions(),
        **options: Unpack[WatchOptions],
    ) -> None:
        super().__init__(ecs, cluster, service, **options)
        self.stages = stages

    # ---- finding our service deployment ----------------------------------------------------------------

    def find(self, target: WatchTarget) -> str | None:
        """Our service deployment's ARN: the one ECS made for our deployment id (None while not listed yet)."""
        services = self.ecs.describe_services(cluster=self.cluster, services=[self.service]).get(
            "services", []
        )
        if not services:
            return None
        service = services[0]
        briefs = self.ecs.list_service_deployments(
            cluster=self.cluster,
            service=self.service,
            createdAt={"after": target.started_at - dt.timedelta(minutes=1)},
        ).get("serviceDeployments", [])
        ours = our_service_deployment(briefs, service, target)
        if ours is not None:
            return str(ours["serviceDeploymentArn"])
        return None

    # ---- watching ------------------------------------------------------------------------------------------

    def watch(
        self, target: WatchTarget, *, timeout: float, service_deployment_arn: str | None = None
    ) -> Outcome:
        start = self.clock.now()
        deadline = start + timeout
        state = _WatchState(arn=service_deployment_arn)
        interval = self.policy.interval
        delay = self.policy.first_delay(self.rng)
        while True:
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                break
            self.clock.sleep(min(delay, remaining))
            delay = interval
            try:
                outcome = self._look(target, start, state)
            except READ_ERRORS as exc:
                state.errors += 1
                state.consecutive_errors += 1
                state.last_error = error_text(exc)
                self._note(target, start, state, f"ECS read failed ({state.last_error}); still watching")
                if is_throttle(exc):
                    interval = min(interval * 2, self.policy.max_interval)
                delay = interval
                continue
            state.consecutive_errors = 0
            interval = self.policy.interval
            if outcome is not None:
                return outcome
            if state.acted:
                delay = min(delay, self.policy.first_poll_min)  # look again soon after a Continue/Stop
                state.acted = False
        return self._timed_out(target, start, state, deadline)

    def _look(self, target: WatchTarget, start: float, state: _WatchState) -> Outcome | None:
        if state.arn is None:
            state.arn = self.find(target)
            if state.arn is None:
                state.summary = f"no service deployment listed yet for {target.deployment_id}"
                self._note(target, start, state, state.summary)
                return None
        answer = self.ecs.describe_service_deployments(serviceDeploymentArns=[state.arn])
        items = answer.get("serviceDeployments", [])
        if not items:
            failures = answer.get("failures", [])
            state.summary = f"service deployment {short_arn_of(state.arn)} not described yet" + (
                f" ({failures[0].get('reason')})" if failures else ""
            )
            self._note(target, start, state, state.summary)
            return None
        deployment = items[0]
        observation = classify_service_deployment(deployment)
        state.summary = observation.summary
        if observation.stage:
            state.stage = observation.stage
        self._report(target, start, deployment, observation)
        if observation.verdict is not None:
            return self._conclude(target, start, state, observation)
        if observation.paused is not None:
            return self._paused(target, start, state, observation.paused)
        if observation.stage in self.stages.bake_stages and self.stages.bake_check is not None:
            self._bake(target, start, state)
        return None

    def _paused(
        self, target: WatchTarget, start: float, state: _WatchState, hook: PausedHook
    ) -> Outcome | None:
        if hook.hook_id in state.handled:
            return None  # ECS has not moved on from the hook we answered yet
        on_pause, pause_stage = self.stages.on_pause, self.stages.pause_stage
        if on_pause is not None and (pause_stage is None or hook.stage == pause_stage):
            state.handled.add(hook.hook_id)
            self._note(target, start, state, f"{hook.line()}: verifying the new revision on test traffic")
            evidence = [dict(e) for e in on_pause(hook)]
            state.evidence += evidence
            failed = [e for e in evidence if e.get("result") != "pass"]
            verdict = (
                "failed: " + "; ".join(f"{e['check']}: {e.get('detail', '')}" for e in failed)
                if failed
                else "passed"
            )
            self._note(target, start, state, f"verification at {hook.stage} {verdict}")
            state.acted = True
            return None
        if self.stages.stop_at_pause:
            return self._outcome(
                target, start, state, "paused", f"{hook.line()}", [_continue_hint(self.service)]
            )
        if hook.hook_id not in state.noted_pauses:
            state.noted_pauses.add(hook.hook_id)
            self._note(
                target, start, state, f"{hook.line()}: not EnvPromote's hook; {_continue_hint(self.service)}"
            )
        return None

    def _bake(self, target: WatchTarget, start: float, state: _WatchState) -> None:
        bake_check = self.stages.bake_check
        assert bake_check is not None
        assert state.arn is not None
        now = self.clock.now()
        if (
            state.last_bake_check is not None
            and now - state.last_bake_check < self.stages.bake_check_interval - 1e-6
        ):
            return
        state.last_bake_check = now
        evidence = [dict(e) for e in bake_check()]
        failed = [e for e in evidence if e.get("result") != "pass"]
        if not state.bake_recorded or failed:
            state.evidence += evidence  # the first round of bake checks, and every failing round
            state.bake_recorded = True
        if not failed or state.stopped:
            return
        text = "; ".join(f"{e['check']}: {e.get('detail', '')}" for e in failed)
        self._note(target, start, state, f"bake check failed ({text}); stopping the deployment with ROLLBACK")
        try:
            self.ecs.stop_service_deployment(serviceDeploymentArn=state.arn, stopType="ROLLBACK")
        except READ_ERRORS as exc:
            state.reasons.append(f"StopServiceDeployment ROLLBACK failed: {error_text(exc)}")
        else:
            state.reasons.append(
                f"EnvPromote stopped the deployment with ROLLBACK: bake check failed ({text})"
            )
        state.stopped = True
        state.acted = True

    # ---- reporting -------------------------------------------------------------------------------------------

    def _report(
        self, target: WatchTarget, start: float, deployment: Mapping[str, Any], observation: StageObservation
    ) -> None:
        revision = deployment.get("targetServiceRevision") or {}
        requested = int(revision.get("requestedTaskCount", 0))
        running = int(revision.get("runningTaskCount", 0))
        progress = Progress(
            deployment_id=target.deployment_id,
            state=observation.status,
            running=running,
            desired=requested,
            pending=int(revision.get("pendingTaskCount", 0)),
            elapsed=self.clock.now() - start,
            stage=observation.stage or "",
            last_event=observation.paused.line() if observation.paused else "",
        )
        self.last_progress = progress
        self.on_progress(progress)

    def _note(self, target: WatchTarget, start: float, state: _WatchState, text: str) -> None:
        self.on_progress(note(target.deployment_id, text, self.clock.now() - start, self.last_progress))

    def _conclude(
        self, target: WatchTarget, start: float, state: _WatchState, observation: StageObservation
    ) -> Outcome:
        assert observation.verdict is not None
        failed_checks = [
            f"verification {e['check']}: {e.get('detail', '')}"
            for e in state.evidence
            if e.get("result") != "pass"
        ]
        reasons = [*observation.reasons, *state.reasons, *failed_checks]
        return self._outcome(target, start, state, observation.verdict, observation.summary, reasons)

    def _outcome(
        self,
        target: WatchTarget,
        start: float,
        state: _WatchState,
        status: str,
        summary: str,
        reasons: list[str],
    ) -> Outcome:
        return Outcome(
            status=status,
            deployment_id=target.deployment_id,
            summary=summary,
            reasons=reasons,
            seconds=self.clock.now() - start,
            source="service-deployment",
            errors=state.errors,
            stage=state.stage,
            service_deployment_arn=state.arn,
            verification=list(state.evidence),
        )

    def _timed_out(self, target: WatchTarget, start: float, state: _WatchState, deadline: float) -> Outcome:
        if state.consecutive_errors or state.summary == "":
            summary = f"outcome unknown: ECS could not be read ({state.last_error or 'no answer'}); last seen: {state.summary or 'nothing'}"
        else:
            summary = f"still undecided after {deadline - start:.0f}s: {state.summary}"
        reasons = list(state.reasons)
        if state.noted_pauses:
            reasons.append(_continue_hint(self.service))
        return self._outcome(target, start, state, "timed_out", summary, reasons)


class _WatchState:
    """What one watch remembers between looks."""

    def __init__(self, arn: str | None) -> None:
        self.arn = arn
        self.stage: str | None = None
        self.summary = ""
        self.errors = 0
        self.consecutive_errors = 0
        self.last_error = ""
        self.handled: set[str] = set()
        self.noted_pauses: set[str] = set()
        self.evidence: list[dict[str, str]] = []
        self.reasons: list[str] = []
        self.last_bake_check: float | None = None
        self.bake_recorded = False
        self.stopped = False
        self.acted = False


def _continue_hint(service: str) -> str:
    return f"a hook paused {service}: run 'invoke continue --env <env>' (or --rollback) to resolve it"
