"""Map local names to qualified Keras names from a module's import statements.

libcst's QualifiedNameProvider answers this precisely but costs about 7x a parse;
a table built from the imports answers it for every import style real Keras code uses
(see shared/corpus/STATS.md section 3), in one pass over the statements.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# The top-level modules whose import makes a program a Keras program.
KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")

# Prefixes that all name the Keras 3 API, spelled differently.
_KERAS_PREFIXES = (
    ("tensorflow.python.keras.", "keras."),
    ("tensorflow.keras.", "keras."),
    ("tf_keras.", "keras."),
    ("keras.api._v2.keras.", "keras."),
    ("keras.api.", "keras."),
    ("keras.src.", "keras."),
)
# Objects exported at the top of the keras namespace: keras.Sequential is keras.models.Sequential.
_TOP_LEVEL = {"Sequential": "models", "Model": "models", "Input": "layers", "Layer": "layers"}


def canonical(qualified: str) -> str | None:
    """'tensorflow.keras.layers.Dense' -> 'keras.layers.Dense'; None when not Keras."""
    if qualified in ("tensorflow.keras", "tf_keras"):
        return "keras"
    for old, new in _KERAS_PREFIXES:
        if qualified.startswith(old):
            qualified = new + qualified[len(old):]
            break
    if qualified == "keras" or qualified.startswith("keras."):
        return qualified
    return None


def keras_key(qualified: str) -> tuple[str, str] | None:
    """'keras.layers.convolutional.Conv2D' -> ('layers', 'Conv2D'); the catalog's key."""
    name = canonical(qualified)
    if name is None:
        return None
    parts = name.split(".")[1:]
    if not parts:
        return None
    if len(parts) == 1:
        category = _TOP_LEVEL.get(parts[0])
        return (category, parts[0]) if category else None
    return parts[0], parts[-1]


# An import statement naming a Keras root: `import a, b as c, keras`, `from tensorflow import x`;
# `\\` lets the statement go on over a line break.
_KERAS_IMPORT = re.compile(
    r"\b(?:from|import)[\s\\]+"
    r"(?:[\w.]+(?:[\s\\]+as[\s\\]+\w+)?[\s\\]*,[\s\\]*)*"
    rf"(?:{'|'.join(KERAS_ROOTS)})\b"
)


def imports_keras(text: str) -> bool:
    """Whether a program imports Keras, read from its raw text (a notebook's JSON too) without
    parsing it: the quick test that lets `scan` and the pre-commit hook pass over other files.
    It never says no where :attr:`ImportTable.uses_keras` of the parsed program would say yes
    (it may say yes for an import inside a string, which the analysis then finds empty)."""
    return _KERAS_IMPORT.search(text) is not None


def dotted(node: ast.expr) -> str | None:
    """The dotted text of a Name/Attribute chain: `tf.keras.layers.Dense`; None otherwise."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


@dataclass
class ImportTable:
    """Local name -> qualified dotted name, plus star-imported modules."""

    names: dict[str, str] = field(default_factory=dict)
    star_modules: list[str] = field(default_factory=list)
    shadowed: set[str] = field(default_factory=set)
    # a second name of a Keras class -> the class's key (roles.csv `class_alias`: MaxPool2D)
    aliases: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def add(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    self.names[top] = top
            return
        if node.level or not node.module:
            return
        for alias in node.names:
            if alias.name == "*":
                self.star_modules.append(node.module)
            else:
                self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def qualify(self, text: str) -> str | None:
        """Qualify a dotted expression text through the table; None when its head is unknown."""
        head, _, rest = text.partition(".")
        if head in self.shadowed:
            return None
        target = self.names.get(head)
        if target is None:
            if rest:
                return None
            for module in self.star_modules:
                if canonical(module):
                    return f"{module}.{head}"
            return None
        return f"{target}.{rest}" if rest else target

    def key(self, func: ast.expr) -> tuple[str, str] | None:
        text = dotted(func)
        if text is None:
            return None
        qualified = self.qualify(text)
        key = keras_key(qualified) if qualified else None
        return self.aliases.get(key, key) if key is not None else None

    @property
    def uses_tensorflow(self) -> bool:
        """Whether the program imports TensorFlow (and so may build tf.data pipelines)."""
        modules = [*self.names.values(), *self.star_modules]
        return any(m.split(".")[0] in ("tensorflow", "tensorflow_datasets") for m in modules)

    @property
    def uses_keras(self) -> bool:
        modules = [*self.names.values(), *self.star_modules]
        return any(m.split(".")[0] in KERAS_ROOTS for m in modules)
