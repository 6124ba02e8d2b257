"""Read the Dockerfile's final stage into an ImageConfig, and collect what it copies from the build context.

Only what the image config and the app layer need: ARG/ENV expansion, FROM (stages), CMD/ENTRYPOINT, USER,
WORKDIR, EXPOSE, LABEL, HEALTHCHECK and COPY/ADD from the context. Pure apart from reading the context files.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from pathlib import Path
from typing import Any

from envpromote.build.oci import DEFAULT_CMD, ImageConfig
from envpromote.errors import BadInput

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
DOCKER_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def _json_words(text: str) -> tuple[str, ...] | None:
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append((current + stripped).strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def _key_values(rest: str) -> list[tuple[str, str]]:
    words = shlex.split(rest)
    if words and "=" not in words[0]:  # legacy form: ENV KEY value with spaces
        return [(words[0], " ".join(words[1:]))]
    pairs = []
    for word in words:
        key, _, value = word.partition("=")
        pairs.append((key, value))
    return pairs


def _expand(text: str, values: dict[str, str]) -> str:
    return _VAR.sub(lambda m: values.get(m.group(1) or m.group(2), ""), text)


def _nanoseconds(value: str) -> int:
    match = _DURATION.match(value)
    return int(float(match.group(1)) * _NS[match.group(2)]) if match else 0


def _healthcheck(rest: str) -> tuple[tuple[str, Any], ...]:
    words = rest.split()
    options: dict[str, Any] = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        names = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod"}
        if key in names:
            options[names[key]] = _nanoseconds(value)
        elif key == "retries":
            options["Retries"] = int(value)
    command = " ".join(words)
    if command.upper() == "NONE":
        return (("Test", ["NONE"]),)
    instruction, _, body = command.partition(" ")
    if instruction.upper() == "CMD":
        argv = _json_words(body.strip())
        options["Test"] = ["CMD", *argv] if argv else ["CMD-SHELL", body.strip()]
    return tuple(sorted(options.items()))


def parse_dockerfile(text: str) -> ImageConfig:
    """The image config declared by the final stage (FROM starts a stage; later stages replace earlier ones)."""
    args: dict[str, str] = {}
    cmd: tuple[str, ...] = DEFAULT_CMD
    entrypoint: tuple[str, ...] = ()
    user = ""
    workdir = "/"
    ports: list[str] = []
    env: dict[str, str] = {}
    labels: dict[str, str] = {}
    copies: list[tuple[tuple[str, ...], str]] = []
    healthcheck: tuple[tuple[str, Any], ...] = ()
    base = "scratch"
    for line in _logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        scope = {"PATH": DOCKER_DEFAULT_PATH, **args, **env}
        if instruction == "ARG":
            for key, value in _key_values(rest):
                args.setdefault(key, value)
        elif instruction == "FROM":
            base = _expand(rest.split()[0], args) if rest else "scratch"
            cmd, entrypoint, user, workdir = DEFAULT_CMD, (), "", "/"
            ports, env, labels, copies, healthcheck = [], {}, {}, [], ()
        elif instruction in {"CMD", "ENTRYPOINT"}:
            words = _json_words(rest) or ("/bin/sh", "-c", rest)
            if instruction == "CMD":
                cmd = words
            else:
                entrypoint = words
        elif instruction == "USER":
            user = _expand(rest, scope)
        elif instruction == "WORKDIR":
            rest = _expand(rest, scope)
            workdir = posixpath.normpath(posixpath.join(workdir, rest))
        elif instruction == "EXPOSE":
            for port in _expand(rest, scope).split():
                ports.append(port if "/" in port else f"{port}/tcp")
        elif instruction == "ENV":
            for key, value in _key_values(rest):
                env[key] = _expand(value, {"PATH": DOCKER_DEFAULT_PATH, **args, **env})
        elif instruction == "LABEL":
            labels.update(_key_values(rest))
        elif instruction == "HEALTHCHECK":
            healthcheck = _healthcheck(rest)
        elif instruction in {"COPY", "ADD"}:
            words = _json_words(rest) or tuple(shlex.split(rest))
            if any(w.startswith("--from") for w in words):
                continue  # from another stage: built by Docker only
            paths = [_expand(w, scope) for w in words if not w.startswith("--")]
            if len(paths) >= 2:
                dest = posixpath.normpath(posixpath.join(workdir, paths[-1]))
                if paths[-1].endswith("/") and not dest.endswith("/"):
                    dest += "/"
                copies.append((tuple(paths[:-1]), dest))
    return ImageConfig(
        cmd=cmd,
        entrypoint=entrypoint,
        user=user,
        workdir=workdir,
        exposed_ports=tuple(sorted(set(ports))),
        env=tuple(env.items()),
        labels=tuple(sorted(labels.items())),
        base=base,
        copies=tuple(copies),
        healthcheck=healthcheck,
    )


STATE_DIR = (
    ".envpromote"  # the tools' own state (OCI layouts): never part of an image, even when app_dir = "."
)


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: `*` and `?` stay within a path segment, `**` spans any."""
    out = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
            continue
        if pattern.startswith("**", index):
            out += ".*"
            index += 2
            continue
        out += "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char)
        index += 1
    return re.compile(out + r"\Z")


def dockerignore(app_dir: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """The rules of ``<app_dir>/.dockerignore`` in order: (exception ``!``, pattern); empty without the file."""
    path = app_dir / ".dockerignore"
    if not path.is_file():
        return []
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        cleaned = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
        if cleaned and cleaned != ".":
            rules.append((exception, _ignore_regex(cleaned)))
    return rules


def is_ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parent directories decides."""
    parts = relative.split("/")
    if parts[0] in {STATE_DIR, ".git"}:
        return True
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for exception, regex in rules:
        if exception != ignored:  # only an exclusion can exclude, only an exception can re-include
            continue
        if any(regex.match(candidate) for candidate in candidates):
            ignored = not exception
    return ignored


def _context_files(app_dir: Path, source: str) -> list[tuple[Path, str]]:
    """(file, path relative to the source) for a COPY source, without what .dockerignore leaves out of the
    context (and without caches, .git and .envpromote/)."""
    rules = dockerignore(app_dir)
    context = app_dir.resolve()
    root = (app_dir / source).resolve()
    if not root.is_relative_to(app_dir.resolve()):
        raise BadInput(
            f"Dockerfile COPY source {source!r} is outside {app_dir.name}/ (the build context).",
            fix=f"Copy only from {app_dir} (the build context, [build] app_dir in envpromote.toml).",
        )
    if root.is_file():
        return [] if is_ignored(root.relative_to(context).as_posix(), rules) else [(root, root.name)]
    return [
        (p, p.relative_to(root).as_posix())
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and "__pycache__" not in p.parts
        and not p.name.endswith((".pyc", ".pyo"))
        and not is_ignored(p.relative_to(context).as_posix(), rules)
    ]


def app_files(app_dir: Path, config: ImageConfig) -> list[tuple[str, bytes, int]]:
    """The app layer: what the Dockerfile's final stage copies from the context (else app/src under WORKDIR),
    plus app/requirements.txt under WORKDIR (the virtualenv itself needs Docker and a package index)."""
    placed: dict[str, Path] = {}
    copies = config.copies or ((("src",), f"{config.workdir.rstrip('/')}/src/"),)
    for sources, dest in copies:
        for source in sources:
            for path, relative in _context_files(app_dir, source):
                into_dir = dest.endswith("/") or len(sources) > 1 or (app_dir / source).is_dir()
                target = f"{dest.rstrip('/')}/{relative}" if into_dir else dest
                placed[target.lstrip("/")] = path
    requirements = app_dir / "requirements.txt"
    if requirements.is_file():
        placed.setdefault(f"{config.workdir.strip('/')}/requirements.txt".lstrip("/"), requirements)
    if not placed:
        raise BadInput(
            f"Nothing to build in {app_dir}: the Dockerfile copies nothing and there is no src/ directory.",
            fix="Point [build] app_dir in envpromote.toml at your app's folder, or create its src/.",
        )
    return [(target, path.read_bytes(), path.stat().st_mode) for target, path in sorted(placed.items())]
