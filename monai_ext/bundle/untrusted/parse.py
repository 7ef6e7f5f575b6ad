"""Parse an untrusted bundle config: bounded JSON or YAML, and ``%`` macros only to files inside the bundle.

MONAI's own loader would follow ``%/any/file.json::key`` macros to any file on disk, hang on YAML aliases
("billion laughs") and recurse on deep nesting. Here, before anything else:

* the file must lie inside the bundle and be at most :data:`MAX_CONFIG_BYTES`;
* its nesting depth is measured without parsing (and without recursion) and refused above :data:`MAX_DEPTH`;
* YAML goes through the safe loader after a token scan that refuses aliases, anchors, tags and directives;
* the top level must be a mapping;
* every ``%`` macro is expanded here, under the same rules: a relative path to a config file inside the bundle
  (resolved from the bundle root), or an id of this config; at most :data:`MAX_MACROS` expansions, and the
  expanded config at most :data:`MAX_NODES` values and :data:`MAX_EXPANDED_DEPTH` deep.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from monai_ext.bundle.errors import BundleFileError, BundleLimitError
from monai_ext.bundle.untrusted.contained import inside

__all__ = ["MAX_CONFIG_BYTES", "MAX_DEPTH", "json_depth", "read_untrusted_config", "yaml_depth"]

MAX_CONFIG_BYTES = 4 << 20
MAX_DEPTH = 64
MAX_EXPANDED_DEPTH = 128
MAX_MACROS = 256
MAX_NODES = 100_000  # values after macro expansion: MONAI makes one ConfigItem of each
CONFIG_SUFFIXES = (".json", ".yaml", ".yml")
# a string, possessively (no backtracking): it cannot fail once started, so the scan stays linear
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_SEP = "::"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_REFUSED_TOKENS = (yaml.AliasToken, yaml.AnchorToken, yaml.TagToken, yaml.DirectiveToken)
_OPEN_TOKENS = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
                yaml.FlowSequenceStartToken)  # fmt: skip
_CLOSE_TOKENS = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def read_untrusted_config(path: Path, *, root: Path) -> dict[str, Any]:
    """Read one config file of an untrusted bundle, with its ``%`` macros expanded.

    Args:
        path: the config file (``.json``, ``.yaml`` or ``.yml``).
        root: the bundle folder; the file and every file a macro names must lie inside it.

    Returns:
        The config mapping, holding no ``%`` macro any more.

    Raises:
        BundleFileError: unreadable, not valid, not a mapping, a refused YAML feature, or a bad macro (names the
            file, the key and the reason).
        BundleLimitError: too large or too deeply nested.
    """
    content = _load(path, root)
    return _expand(content, path, root)


def _load(path: Path, root: Path) -> dict[str, Any]:
    resolved = inside(root, path)
    if resolved.suffix.lower() not in CONFIG_SUFFIXES:
        raise BundleFileError(f"not a config file (one of {', '.join(CONFIG_SUFFIXES)})", path)
    if not resolved.is_file():
        raise BundleFileError("no such config file", path)
    if resolved.stat().st_size > MAX_CONFIG_BYTES:
        raise BundleLimitError(f"the config is larger than {MAX_CONFIG_BYTES >> 20} MiB", path)
    try:
        text = resolved.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BundleFileError(f"cannot read the config ({err})", path) from err
    if resolved.suffix.lower() == ".json":
        depth = json_depth(text)
        if depth > MAX_DEPTH:
            raise BundleLimitError(f"the config nests {depth} levels deep (at most {MAX_DEPTH})", path)
        try:
            content = json.loads(text)
        except (ValueError, RecursionError) as err:
            raise BundleFileError(f"not valid JSON ({str(err)[:200]})", path) from err
    else:
        depth = yaml_depth(text, path)
        if depth > MAX_DEPTH:
            raise BundleLimitError(f"the config nests {depth} levels deep (at most {MAX_DEPTH})", path)
        try:
            content = yaml.load(text, Loader=_LOADER)  # the safe loader (C or Python)
        except (yaml.YAMLError, ValueError, RecursionError) as err:
            raise BundleFileError(f"not valid YAML ({str(err)[:200]})", path) from err
    if not isinstance(content, dict):
        raise BundleFileError(f"the config must be a mapping of keys, not a {type(content).__name__}", path)
    return content


def json_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting of JSON text, counted outside strings without parsing it."""
    stripped = _JSON_STRING.sub("", text)
    codes = np.frombuffer(stripped.encode("utf-8", "replace"), dtype=np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    closes = (codes == ord("]")) | (codes == ord("}"))
    level = np.cumsum(opens.astype(np.int64) - closes.astype(np.int64))
    return int(level.max()) if level.size else 0


def yaml_depth(text: str, path: Path) -> int:
    """The deepest nesting of YAML text from its token stream; aliases, anchors, tags and directives are refused.

    Raises:
        BundleFileError: a refused token (names its line) or a syntax error.
    """
    depth = deepest = 0
    try:
        for token in yaml.scan(text, Loader=_LOADER):
            if isinstance(token, _REFUSED_TOKENS):
                kind = type(token).__name__.removesuffix("Token").lower()
                line = token.start_mark.line + 1 if token.start_mark else "?"
                raise BundleFileError(f"line {line}: a YAML {kind} is not allowed in an untrusted bundle", path)
            if isinstance(token, _OPEN_TOKENS):
                depth += 1
                deepest = max(deepest, depth)
                if deepest > MAX_DEPTH:
                    return deepest
            elif isinstance(token, _CLOSE_TOKENS):
                depth -= 1
    except yaml.YAMLError as err:
        if "increasing flow level" in str(err):  # libyaml's own nesting cap, hit while scanning ahead
            raise BundleLimitError(f"the config nests more than {MAX_DEPTH} levels deep", path) from err
        raise BundleFileError(f"not valid YAML ({str(err)[:200]})", path) from err
    return deepest


class _Expansion:
    """Expands the ``%`` macros of one config in place, iteratively, under the macro budget."""

    def __init__(self, main: dict[str, Any], path: Path, root: Path) -> None:
        self.main = main
        self.path = path
        self.root = root
        self.files: dict[Path, dict[str, Any]] = {}
        self.macros = 0
        self.nodes = 0

    def run(self) -> dict[str, Any]:
        holder: dict[str, Any] = {"": self.main}
        pending: list[tuple[Any, Any, str, int]] = [(holder, "", "", 0)]
        while pending:
            parent, key, item_id, depth = pending.pop()
            value = parent[key]
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise BundleLimitError(f"the config expands to more than {MAX_NODES} values", self.path)
            if depth > MAX_EXPANDED_DEPTH:
                raise BundleLimitError(
                    f"key {item_id!r}: the config nests more than {MAX_EXPANDED_DEPTH} levels", self.path
                )
            if isinstance(value, str) and value.startswith("%"):
                parent[key] = value = self.macro(value, item_id)
                self.nodes -= 1
                pending.append((parent, key, item_id, depth))  # the inserted content may hold macros too
                continue
            if isinstance(value, dict):
                children = list(value.items())
            elif isinstance(value, list):
                children = list(enumerate(value))
            else:
                continue
            for child_key, _ in children:
                child_id = f"{item_id}{_SEP}{child_key}" if item_id else str(child_key)
                pending.append((value, child_key, child_id, depth + 1))
        return holder[""]

    def macro(self, text: str, item_id: str) -> Any:
        from monai.bundle.config_parser import ConfigParser

        self.macros += 1
        if self.macros > MAX_MACROS:
            raise BundleLimitError(f"key {item_id!r}: more than {MAX_MACROS} % macros", self.path)
        try:
            source = ConfigParser.resolve_relative_ids(item_id, text)[1:]
            file_name, target = ConfigParser.split_path_id(source)
        except ValueError as err:
            raise BundleFileError(f"key {item_id!r}: bad macro {text[:80]!r} ({err})", self.path) from err
        content: Any = self.main
        if file_name:
            content = self.file(file_name, item_id, text)
        for part in [p for p in target.split(_SEP) if p] if target else []:
            if isinstance(content, str) and content.startswith("%"):  # through a macro not expanded yet
                content = self.macro(content, item_id)
            try:
                content = content[int(part)] if isinstance(content, list) else content[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise BundleFileError(
                    f"key {item_id!r}: the macro {text[:80]!r} names no such key ({part!r})", self.path
                ) from None
        return copy.deepcopy(content)

    def file(self, name: str, item_id: str, text: str) -> dict[str, Any]:
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise BundleFileError(
                f"key {item_id!r}: the macro {text[:80]!r} names a file outside the bundle (only relative paths "
                "inside it, without '..')",
                self.path,
            )
        candidate = self.root / relative
        try:
            resolved = inside(self.root, candidate)
        except BundleFileError as err:
            raise BundleFileError(f"key {item_id!r}: the macro {text[:80]!r} {err}", self.path) from err
        if resolved not in self.files:
            try:
                self.files[resolved] = _load(candidate, self.root)
            except BundleLimitError as err:
                raise BundleLimitError(f"key {item_id!r}: the macro {text[:80]!r}: {err}", self.path) from err
            except BundleFileError as err:
                raise BundleFileError(f"key {item_id!r}: the macro {text[:80]!r}: {err}", self.path) from err
        return self.files[resolved]


def _expand(content: dict[str, Any], path: Path, root: Path) -> dict[str, Any]:
    return _Expansion(content, path, root).run()
