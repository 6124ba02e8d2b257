"""Fargate task sizes: the default cpu/memory of a task definition and the pairs Fargate accepts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FARGATE_MEMORY: Mapping[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
DEFAULT_CPU = "256"
DEFAULT_MEMORY = "512"


def fargate_size_problems(key: str, taskdef: Mapping[str, Any]) -> list[str]:
    """Fargate accepts only certain cpu/memory pairs; name the allowed values."""
    cpu_text, memory_text = str(taskdef.get("cpu", DEFAULT_CPU)), str(taskdef.get("memory", DEFAULT_MEMORY))
    if not (cpu_text.isdigit() and memory_text.isdigit()):
        return []  # the schema already named it
    cpu, memory = int(cpu_text), int(memory_text)
    if cpu not in FARGATE_MEMORY:
        sizes = ", ".join(map(str, FARGATE_MEMORY))
        return [f"{key}.cpu: {cpu_text!r} is not a Fargate CPU size (allowed: {sizes})"]
    allowed = FARGATE_MEMORY[cpu]
    if memory not in allowed:
        step = allowed[1] - allowed[0]
        choices = (
            ", ".join(map(str, allowed))
            if len(allowed) <= 4
            else f"{allowed[0]}-{allowed[-1]} in steps of {step}"
        )
        return [f"{key}.memory: {memory_text!r} MiB does not fit cpu {cpu} on Fargate (allowed: {choices})"]
    return []
