"""The AWS provider's schema, offline: read from the cdktf provider bindings on PyPI.

`cdktf-cdktf-provider-aws` is generated from terraform-provider-aws's schema (21.22.1 = provider 6.25.0) and
ships it as a jsii assembly. Each resource's Config struct lists its arguments and blocks, each linking to the
Terraform name (`.../docs/resources/ecs_service#alarm_names`). That is enough to catch a misspelt argument,
block or attribute reference in infra/ without downloading the provider (which `terraform validate` needs).
"""

from __future__ import annotations

import importlib.util
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iac_policy import parse_text

PACKAGE = "cdktf_cdktf_provider_aws"
META_ARGUMENTS = {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"}
_LINK = re.compile(r"#([a-z0-9_]+) ")
# Types of other HashiCorp providers that infra/ uses, with their schema written out (small and stable):
# hashicorp/archive 2.x `data "archive_file"`. kind -> type -> (arguments, required, attributes).
OTHER_PROVIDERS: dict[str, dict[str, tuple[frozenset[str], frozenset[str], frozenset[str]]]] = {
    "data": {
        "archive_file": (
            frozenset(
                {
                    "type",
                    "output_path",
                    "output_file_mode",
                    "source_content",
                    "source_content_filename",
                    "source_file",
                    "source_dir",
                    "excludes",
                    "exclude_symlink_directories",
                    "source",
                }
            ),
            frozenset({"type", "output_path"}),
            frozenset(
                {
                    "id",
                    "output_path",
                    "output_size",
                    "output_md5",
                    "output_sha",
                    "output_sha256",
                    "output_base64sha256",
                    "output_sha512",
                    "output_base64sha512",
                }
            ),
        )
    }
}
_OTHER_REFERENCE = re.compile(r"(?<![\w.])data\.(archive_file)\.([a-z0-9_]+)\.([a-z0-9_]+)")
_REFERENCE = re.compile(r"(?<![\w.])(data\.)?(aws_[a-z0-9_]+)\.([a-z0-9_]+)(?:\[[^\]]*\])?\.([a-z0-9_]+)")


def assembly_path() -> Path | None:
    """The jsii assembly tarball inside the installed wheel (without importing the package)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("_jsii/provider-aws@*.jsii.tgz"))
    return found[-1] if found else None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


@dataclass
class ProviderSchema:
    types: dict[str, Any]
    provider_version: str

    @classmethod
    def load(cls, tarball: Path) -> ProviderSchema:
        with tarfile.open(tarball) as archive:
            member = archive.extractfile("package/.jsii")
            assert member is not None
            assembly = json.load(member)
        docs = json.dumps(assembly.get("readme", {}))
        version = re.search(r"hashicorp/aws/(\d+\.\d+\.\d+)", docs) or re.search(
            r"hashicorp/aws/(\d+\.\d+\.\d+)", json.dumps(next(iter(assembly["types"].values())))
        )
        return cls(types=assembly["types"], provider_version=version.group(1) if version else "?")

    def _structs_in(self, type_ref: Any) -> list[str]:
        found: list[str] = []
        if isinstance(type_ref, dict):
            fqn = type_ref.get("fqn")
            if fqn and self.types.get(fqn, {}).get("datatype"):
                found.append(fqn)
            for value in type_ref.values():
                found += self._structs_in(value)
        elif isinstance(type_ref, list):
            for value in type_ref:
                found += self._structs_in(value)
        return found

    def arguments(self, fqn: str) -> dict[str, str | None]:
        """Terraform argument/block name -> the struct of that block (None for plain arguments)."""
        definition = self.types[fqn]
        result: dict[str, str | None] = {}
        for prop in definition.get("properties", []):
            text = f"{prop.get('docs', {}).get('summary', '')} {prop.get('docs', {}).get('remarks', '')}"
            link = _LINK.search(text)
            structs = self._structs_in(prop["type"])
            result[link.group(1) if link else _snake(prop["name"])] = structs[0] if structs else None
        for parent in definition.get("interfaces", []):
            if parent in self.types:
                result.update(self.arguments(parent))
        return result

    def required(self, fqn: str) -> set[str]:
        """Arguments the schema requires (jsii marks every other property optional)."""
        definition = self.types[fqn]
        names: set[str] = set()
        for prop in definition.get("properties", []):
            if not prop.get("optional"):
                text = f"{prop.get('docs', {}).get('summary', '')} {prop.get('docs', {}).get('remarks', '')}"
                link = _LINK.search(text)
                names.add(link.group(1) if link else _snake(prop["name"]))
        for parent in definition.get("interfaces", []):
            if parent in self.types and parent.startswith("@cdktf/provider-aws."):
                names |= self.required(parent)
        return names

    def attributes(self, class_fqn: str) -> set[str]:
        names: set[str] = set()
        definition: dict[str, Any] | None = self.types.get(class_fqn)
        while definition:
            names |= {_snake(prop["name"]) for prop in definition.get("properties", [])}
            base = definition.get("base")
            definition = self.types.get(base) if base else None
        return names

    def fqns(self, kind: str, type_name: str) -> tuple[str, str] | None:
        base = type_name.removeprefix("aws_")
        module = _camel(base) if kind == "resource" else "dataAws" + _pascal(base)
        cls = _pascal(base) if kind == "resource" else "DataAws" + _pascal(base)
        for candidate in (cls, cls + "A"):  # cdktf suffixes names that collide with its own
            config = f"@cdktf/provider-aws.{module}.{candidate}Config"
            if config in self.types:
                return config, f"@cdktf/provider-aws.{module}.{candidate}"
        return None

    def check_body(self, body: dict[str, Any], fqn: str, where: str) -> list[str]:
        problems: list[str] = []
        allowed = self.arguments(fqn)
        dynamic_blocks = {name for block in body.get("dynamic", []) for name in block}
        for missing in sorted(self.required(fqn) - set(body) - dynamic_blocks):
            problems.append(f"{where}: required argument {missing!r} is missing")
        for key, value in body.items():
            if key in META_ARGUMENTS:
                continue
            if key == "dynamic":
                for dynamic in value if isinstance(value, list) else [value]:
                    for block_name, block in dynamic.items():
                        struct = allowed.get(block_name)
                        if struct is None:
                            problems.append(f"{where}: dynamic {block_name!r} is not a block")
                            continue
                        contents = block.get("content", [])
                        for content in contents if isinstance(contents, list) else [contents]:
                            problems += self.check_body(content, struct, f"{where}.{block_name}")
                continue
            if key not in allowed:
                problems.append(f"{where}: unknown argument or block {key!r}")
                continue
            struct = allowed[key]
            if struct and isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
                for item in value:
                    problems += self.check_body(item, struct, f"{where}.{key}")
        return problems

    def check_file(self, path: Path, label: str) -> list[str]:
        text = path.read_text(encoding="utf-8")
        parsed = parse_text(text)
        problems: list[str] = []
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for type_name, named in block.items():
                    other = OTHER_PROVIDERS.get(kind, {}).get(type_name)
                    if other is not None:
                        for name, body in named.items():
                            where = f"{label}: {type_name}.{name}"
                            problems += [
                                f"{where}: required argument {r!r} is missing"
                                for r in sorted(other[1] - set(body))
                            ]
                            problems += [
                                f"{where}: unknown argument or block {k!r}"
                                for k in sorted(set(body) - other[0] - META_ARGUMENTS)
                            ]
                        continue
                    found = self.fqns(kind, type_name)
                    if found is None:
                        problems.append(f"{label}: {kind} type {type_name} does not exist")
                        continue
                    for name, body in named.items():
                        problems += self.check_body(body, found[0], f"{label}: {type_name}.{name}")
        for match in _OTHER_REFERENCE.finditer(text):
            if match.group(3) not in OTHER_PROVIDERS["data"][match.group(1)][2]:
                problems.append(
                    f"{label}: {match.group(0)}: {match.group(1)} has no attribute {match.group(3)}"
                )
        for match in _REFERENCE.finditer(text):
            kind = "data" if match.group(1) else "resource"
            found = self.fqns(kind, match.group(2))
            if found is None:
                problems.append(f"{label}: reference to unknown type {match.group(2)}")
            elif match.group(4) not in self.attributes(found[1]):
                problems.append(
                    f"{label}: {match.group(0)}: {match.group(2)} has no attribute {match.group(4)}"
                )
        return problems


def check_test_file(schema: ProviderSchema, path: Path, label: str) -> list[str]:
    """A `terraform test` file: its references exist, and its mock_data/mock_resource defaults are attributes."""
    problems = [p for p in schema.check_file(path, label) if "attribute" in p or "unknown type" in p]
    for provider in parse_text(path.read_text(encoding="utf-8")).get("mock_provider", []):
        for body in provider.values():
            for kind in ("mock_data", "mock_resource"):
                for entry in body.get(kind, []):
                    for type_name, mock in entry.items():
                        found = schema.fqns("data" if kind == "mock_data" else "resource", type_name)
                        if found is None:
                            problems.append(f"{label}: {kind} {type_name} does not exist")
                            continue
                        defaults = mock.get("defaults", {})
                        for default in defaults if isinstance(defaults, list) else [defaults]:
                            for key in sorted(set(default) - schema.attributes(found[1])):
                                problems.append(f"{label}: {kind} {type_name} has no attribute {key}")
    return problems
