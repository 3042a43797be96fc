"""Load and validate a checks YAML file.

Defaults are applied first, then every check is validated on its own, so one
run reports every mistake, each as `FILE:LINE: check 'NAME': field 'F': why`.

The file is hostile until proven otherwise (the collector reloads it while
serving): it is refused past `MAX_BYTES`, and when its aliases expand it by
more than `MAX_ALIAS_NODES` nodes (a "billion laughs" would otherwise eat
memory and CPU for minutes). It is parsed once, by libyaml's C parser, whose
nodes keep their line numbers for error messages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from common.config.agents import AgentSpec
from common.config.base import (
    FROM_YAML,
    CheckBase,
    ConfigError,
    Defaults,
    Model,
    insecure,
    suggest,
)
from common.config.registry import CHECK_TYPES
from common.config.semantics import semantic_problems
from common.config.sharing import Sharing

Path_ = tuple[str | int, ...]
_ROOT_KEYS = ("defaults", "checks", "alerting", "agents")
MAX_BYTES = 16 * 1024 * 1024
"""A config file larger than this is refused before it is read."""
MAX_ALIAS_NODES = 1_000_000
"""How many nodes aliases may add to a document when expanded."""
_M = TypeVar("_M", bound=Model)
Section = Callable[[Any, "Problems"], object]
"""Validates one more top-level section (the collector's `alerting:`) into
the same `Problems` as the checks, so one run reports every mistake; its
result lands in `Config.sections`."""


@dataclass(frozen=True)
class Config:
    """A validated config: the checks, and a version that changes with them."""

    checks: tuple[CheckBase, ...]
    defaults: Defaults
    version: str
    source: str
    warnings: tuple[str, ...] = ()
    alerting: Mapping[str, Any] | None = None
    """The raw `alerting:` section; the collector validates it as a
    `Section` (collector.alerting.config), since only the collector routes alerts."""
    agents: tuple[AgentSpec, ...] = ()
    """Agent tokens bound to a name and region (collector only; not part of
    `version`, which agents see)."""
    empty_on_purpose: bool = False
    """The file says `checks: []`: a reload may remove every check."""
    check_lines: Mapping[str, int | None] = dataclasses.field(default_factory=dict)
    """The line each check starts on, for `FILE:LINE` in later warnings."""
    lines: Mapping[Path_, int] = dataclasses.field(default_factory=dict, compare=False, repr=False)
    """The line of key paths outside checks (`_kept_lines`), for `FILE:LINE`
    in later warnings."""
    sections: Mapping[str, object] = dataclasses.field(default_factory=dict, compare=False)
    """What each extra `Section` given to the loader made of its part."""

    def line_of(self, path: str) -> int | None:
        """The line of a dotted path such as `alerting.route.routes[0]`, or
        of its nearest written ancestor kept (`lines`)."""
        parts: list[str | int] = [
            int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)
        ]
        for end in range(len(parts), 0, -1):
            if tuple(parts[:end]) in self.lines:
                return self.lines[tuple(parts[:end])]
        return None

    def for_region(self, region: str) -> tuple[CheckBase, ...]:
        """The checks an agent in `region` runs."""
        return tuple(c for c in self.checks if c.probed and region in c.regions)

    def check(self, name: str) -> CheckBase | None:
        """The check called `name`, if any."""
        return next((c for c in self.checks if c.name == name), None)


def load_config(path: str | Path, sections: Mapping[str, Section] | None = None) -> Config:
    """Read and validate `path` (and the extra `sections`). Raises
    ConfigError naming file and line."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    _check_size(len(raw), path.name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path.name}: not UTF-8 text (byte {exc.start})"]) from exc
    return parse_config(text, source=str(path), sections=sections)


def _check_size(size: int, name: str) -> None:
    if size > MAX_BYTES:
        raise ConfigError([f"{name}: larger than {MAX_BYTES // 2**20} MiB: refused"])


def parse_config(
    text: str, source: str = "<config>", sections: Mapping[str, Section] | None = None
) -> Config:
    """Validate YAML `text` (and the extra `sections`); `source` names it in
    error messages."""
    name = Path(source).name
    _check_size(len(text), name)
    duplicates: list[str] = []
    try:
        node, data = _load(text, name, duplicates)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise ConfigError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    lines = _line_map(node) if node is not None else {}
    problems = Problems(name, lines)
    problems.items.extend(duplicates)
    config = _build(data, problems)
    extra = {key: check(_section(data, key), problems) for key, check in (sections or {}).items()}
    if problems.items:
        raise ConfigError(problems.items)
    assert config is not None
    return dataclasses.replace(config, sections=extra)


def _section(data: Any, key: str) -> Any:
    """The raw section `key`; None where the top level is not a mapping
    (already reported)."""
    return data.get(key) if isinstance(data, dict) else None


class _StrictLoader(yaml.CSafeLoader):
    """libyaml's safe loader, reporting duplicate keys instead of keeping the last.

    One exception makes the documented `dns` example work as written: a
    check of `type: dns` that says `name:` twice means the check's name
    first and the name to look up (`query_name`) second.
    """

    source = ""
    duplicates: list[str]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            value = self.construct_object(value_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in mapping:
                if key == "name" and _is_dns(node) and "query_name" not in mapping:
                    mapping["query_name"] = value
                    continue
                self.duplicates.append(
                    f"{self.source}:{line}: duplicate key {key!r}, first on line {first_line[key]}"
                )
                continue
            mapping[key], first_line[key] = value, line
        return mapping


def _is_dns(node: yaml.MappingNode) -> bool:
    return any(k.value == "type" and getattr(v, "value", None) == "dns" for k, v in node.value)


def _load(text: str, source: str, duplicates: list[str]) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data."""
    loader = _StrictLoader(text)
    loader.source, loader.duplicates = source, duplicates
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_aliases(node, source)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def _check_aliases(root: yaml.Node, source: str) -> None:
    """Refuse a document whose aliases expand it past MAX_ALIAS_NODES.

    Composing shares an aliased node instead of copying it, so the tree is
    small; each node's expanded size is counted once (memoized), which
    keeps this linear in the file however deep the aliases nest."""
    sizes: dict[int, int] = {}
    unique = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            continue
        if key in sizes:
            if sizes[key] < 0:
                raise ConfigError([f"{source}:{node.start_mark.line + 1}: recursive alias"])
            continue
        sizes[key], unique = -1, unique + 1
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if sizes.get(id(c), 0) <= 0)
    if sizes[id(root)] - unique > MAX_ALIAS_NODES:
        raise ConfigError(
            [
                f"{source}: aliases expand the document by {sizes[id(root)] - unique:,} nodes, "
                f"over the limit of {MAX_ALIAS_NODES:,}: refused (an alias bomb?)"
            ]
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


class Problems:
    """Collects user-facing error lines, each located in the file:
    `FILE:LINE: SUBJECT: message`, the subject being `check 'x'` or another
    named thing (`receiver 'pager'`)."""

    def __init__(self, source: str, lines: Mapping[Path_, int]) -> None:
        self.source = source
        self.lines = lines
        self.items: list[str] = []
        self.check_lines: dict[str, int | None] = {}

    def add(
        self, path: Path_, message: str, check: str | None = None, *, subject: str | None = None
    ) -> None:
        """Report `message` at the line of `path`, about `check` or `subject`."""
        where = f"{self.source}:{self.line(path)}" if self.line(path) else self.source
        subject = f"check {check!r}" if check else subject
        who = f" {subject}:" if subject else ""
        self.items.append(f"{where}:{who} {message}")

    def line(self, path: Path_) -> int | None:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def _build(data: Any, problems: Problems) -> Config | None:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.add((), "the top level must be a mapping with 'checks:'")
        return None
    for key in data:
        if key not in _ROOT_KEYS:
            problems.add((key,), _unknown_key(key, _ROOT_KEYS))
    raw_defaults = data.get("defaults") or {}
    defaults = validate_model(Defaults, raw_defaults, ("defaults",), problems, None)
    checks = _checks(data.get("checks"), raw_defaults if defaults else {}, problems)
    if defaults is None:
        return None
    digest = hashlib.sha256(repr([c.model_dump(mode="json") for c in checks]).encode())
    warnings = tuple(_warnings(checks, problems))
    alerting = data.get("alerting")
    if alerting is not None and not isinstance(alerting, dict):
        problems.add(("alerting",), "'alerting' must be a mapping")
        alerting = None
    if alerting is not None:
        digest.update(repr(alerting).encode())
    return Config(
        Sharing().checks(checks),
        defaults,
        digest.hexdigest()[:12],
        problems.source,
        warnings,
        alerting,
        _agents(data.get("agents"), problems),
        data.get("checks") == [],
        problems.check_lines,
        _kept_lines(problems.lines),
    )


def _kept_lines(lines: Mapping[Path_, int]) -> dict[Path_, int]:
    """The line map a loaded config keeps: every key path but those inside
    checks, whose errors are reported while loading and whose later
    warnings use `check_lines`. Six entries per check were 1.3 KB per check
    for as long as the config was in force."""
    return {path: line for path, line in lines.items() if path[:1] != ("checks",) or len(path) < 2}


def _agents(raw: Any, problems: Problems) -> tuple[AgentSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(("agents",), "'agents' must be a list of {name, region, token_sha256}")
        return ()
    out: list[AgentSpec] = []
    for index, item in enumerate(raw):
        spec = validate_model(AgentSpec, item, ("agents", index), problems, None)
        if spec is None:
            continue
        for field in ("name", "token_sha256"):
            if any(getattr(o, field) == getattr(spec, field) for o in out):
                problems.add(("agents", index, field), f"agent {field} used twice")
        out.append(spec)
    return tuple(out)


def _warnings(checks: list[CheckBase], problems: Problems) -> Iterable[str]:
    for check in checks:
        if insecure(check):
            where = f"{problems.source}:{problems.check_lines.get(check.name, '?')}"
            yield (
                f"{where}: check {check.name!r}: insecure_skip_verify is on: "
                "TLS certificates are not verified"
            )


def _checks(raw: Any, defaults: Mapping[str, Any], problems: Problems) -> list[CheckBase]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(("checks",), "'checks' must be a list")
        return []
    seen: dict[str, int | None] = {}
    out: list[CheckBase] = []
    for index, item in enumerate(raw):
        path: Path_ = ("checks", index)
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name in seen:
            first = seen[name]
            problems.add((*path, "name"), f"duplicate name, first defined on line {first}", name)
            continue
        if isinstance(name, str):
            seen[name] = problems.check_lines[name] = problems.line(path)
        check = _one_check(item, defaults, path, problems)
        if check is not None:
            for field, why in semantic_problems(check):
                problems.add((*path, field) if field else path, why, check.name)
            out.append(check)
    return out


def _one_check(
    item: Any, defaults: Mapping[str, Any], path: Path_, problems: Problems
) -> CheckBase | None:
    if not isinstance(item, dict):
        problems.add(path, "each check must be a mapping with name and type")
        return None
    name = item.get("name")
    label = str(name) if name is not None else f"#{path[-1]}"
    kind = item.get("type")
    model = CHECK_TYPES.get(str(kind))
    if model is None:
        problems.add((*path, "type"), unknown_type(kind, sorted(CHECK_TYPES)), label)
        return None
    merged = with_defaults(item, defaults)
    return validate_model(model, merged, path, problems, label)


def with_defaults(item: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The check mapping with the file's `defaults:` filled in where unset.

    Labels merge key by key; the model's own defaults fill the rest.
    """
    merged = {**defaults, **item}
    labels = {**(defaults.get("labels") or {}), **(item.get("labels") or {})}
    if labels:
        merged["labels"] = labels
    return merged


def unknown_type(kind: object, choices: Iterable[str]) -> str:
    """The message for a `type:` that names no registered model."""
    choices = list(choices)
    hint = suggest(kind, choices) if isinstance(kind, str) else ""
    return f"field 'type': {kind!r} is not one of {', '.join(choices)}{hint}"


def validate_model(
    model: type[_M],
    data: Any,
    path: Path_,
    problems: Problems,
    check: str | None = None,
    *,
    subject: str | None = None,
) -> _M | None:
    """`data` validated as `model`, or None with every mistake added to
    `problems` (located under `path`, about `check` or `subject`)."""
    try:
        return model.model_validate(data, context={FROM_YAML: True})
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            problems.add(path + loc, _message(model, loc, error), check, subject=subject)
        return None


def _message(model: type[Model], loc: Path_, error: Any) -> str:
    field = ".".join(str(p) for p in loc)
    if error["type"] == "extra_forbidden":
        return _unknown_key(str(loc[-1]), _known_keys(model, loc[:-1]))
    text = str(error["msg"]).removeprefix("Value error, ")
    return f"field '{field}': {text}" if field else text


def _known_keys(model: type[Model], loc: Path_) -> Iterable[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list: the list's own item model
        fields = _fields(current)
        if part not in fields:
            break
        current = _item_model(fields[part].annotation)
    return _fields(current).keys()


def _fields(model: Any) -> dict[str, Any]:
    """A model's fields by the name YAML uses (the alias, where it has one)."""
    return {f.alias or n: f for n, f in getattr(model, "model_fields", {}).items()}


def _item_model(annotation: Any) -> Any:
    """The model in `Model`, `Model | None` or `tuple[Model, ...]`, if any."""
    if hasattr(annotation, "model_fields"):
        return annotation
    return next((a for a in typing.get_args(annotation) if hasattr(a, "model_fields")), None)


def _unknown_key(key: str, known: Iterable[str]) -> str:
    return f"unknown key {key!r}{suggest(key, known)}"


def _line_map(node: yaml.Node, path: Path_ = ()) -> dict[Path_, int]:
    """Map each key path to the 1-based line where it is written."""
    lines: dict[Path_, int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines.update(_line_map(value, child))
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            lines.update(_line_map(value, (*path, index)))
    return lines
