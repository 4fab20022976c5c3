"""The search options, defined once: `optpar tune`, the configuration file (`[tool.optpar]`) and
the generated script's own command line all read this table. Standard library only: the
runtime imports it, and `--standalone` scripts carry it."""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass

from optpar.runtime import prune


@dataclass(frozen=True)
class Option:
    """One search option: `--max-evals N`, `max-evals = 40`."""

    name: str  # max_evals
    kind: str  # int | float | str | choice | flag
    default: object
    help: str
    minimum: float | None = None
    strict: bool = False  # the minimum itself is not allowed (timeout > 0)
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    in_config: bool = True  # a key of [tool.optpar]

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def coerce(self, value: object, label: str, typed: bool = False) -> object:
        """`value` checked and converted; ValueError with `label must be ...` otherwise.
        `typed`: the value comes typed (TOML): "30" is then not a number."""
        if self.kind == "int":
            if typed:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{label} must be an integer, got {value!r}")
                number = value
            else:
                try:
                    number = int(str(value).strip())
                except ValueError:
                    raise ValueError(f"{label} must be an integer, got {value!r}") from None
            if self.minimum is not None and number < self.minimum:
                bound = "positive" if self.minimum == 1 else f">= {self.minimum:g}"
                raise ValueError(f"{label} must be {bound}, got {number}")
            return number
        if self.kind == "float":
            if typed:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"{label} must be a number of seconds, got {value!r}")
                number = value
            else:
                try:
                    raw = str(value).strip()
                    number = int(raw) if re.fullmatch(r"[+-]?\d+", raw) else float(raw)
                except ValueError:
                    raise ValueError(f"{label} must be a number of seconds, got {value!r}") from None
            if not math.isfinite(number) or (self.minimum is not None and (
                    number <= self.minimum if self.strict else number < self.minimum)):
                raise ValueError(f"{label} must be a positive number of seconds, got {value!r}")
            return number
        if self.kind == "choice":
            if not isinstance(value, str) or value.strip() not in self.choices:
                raise ValueError(f"{label} must be one of {', '.join(self.choices)}, got {value!r}")
            return value.strip()
        if self.kind == "flag":
            if isinstance(value, bool):
                return value
            raise ValueError(f"{label} must be true or false, got {value!r}")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{label} must be a non-empty string, got {value!r}")
        return value.strip()


OPTIONS: tuple[Option, ...] = (
    Option("max_evals", "int", 20, "total number of trials, the baseline included", minimum=1, metavar="N"),
    Option("algo", "choice", "tpe", "search algorithm", choices=("tpe", "rand", "anneal", "atpe")),
    Option("seed", "int", 0, "random seed of the search", minimum=0, metavar="S"),
    Option("out", "str", None, "results folder (default optpar-runs/<model>)", metavar="DIR"),
    Option("timeout", "float", None, "start no new trial after SEC seconds", minimum=0, strict=True,
           metavar="SEC"),
    Option("metric", "str", None, "epoch log key to optimise (default val_loss, or the validation metric "
           "the model logs when it logs no val_loss)", metavar="NAME"),
    Option("mode", "choice", None, "min or max (default: max for accuracy/auc/precision/recall metrics, "
           "else min)", choices=("min", "max")),
    Option("patience", "int", 3, "early-stopping patience added to fit (0: none)", minimum=0, metavar="N"),
    Option("prune", "choice", None, "stop hopeless trials early: %s, or none (default: %s when fit() trains "
           "%d epochs or more, without --folds)" % (", ".join(prune.RULES), prune.DEFAULT_RULE, prune.MIN_EPOCHS),
           choices=(*prune.RULES, "none")),
    Option("budget_epochs", "int", None, "start no new trial once the trials have trained N epochs in all",
           minimum=1, metavar="N"),
    Option("folds", "int", 1, "score each trial by K-fold cross-validation over fit()'s training arrays: "
           "a less noisy comparison on small data, K times the training (1: the script's own split)",
           minimum=1, metavar="K"),
    Option("tensorboard", "str", None, "write one TensorBoard run per trial under DIR (per-epoch metrics, "
           "and the search in the HParams tab)", metavar="DIR"),
    Option("backend", "choice", "local", "run trials here, or through Spark", choices=("local", "spark")),
    Option("parallelism", "int", 2, "concurrent trials with --backend spark", minimum=1, metavar="K"),
    Option("spark_master", "str", None, "Spark master URL (default local[K])", metavar="URL", in_config=False),
    Option("quiet", "flag", False, "no per-trial progress lines", in_config=False),
    Option("verbose", "flag", False, "show what trials print (progress bars, model.summary(), ...)",
           in_config=False),
)
BY_NAME = {option.name: option for option in OPTIONS}
CONFIG_KEYS = tuple(option.name for option in OPTIONS if option.in_config)


def add_options(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """The options as arguments of `parser`; `defaults=False` leaves every default None, for a
    caller that merges them with a configuration first (`optpar tune`)."""
    for option in OPTIONS:
        default = option.default if defaults else None
        if option.kind == "flag":
            parser.add_argument(option.flag, action="store_true", default=default, help=option.help)
            continue
        if option.kind == "choice":
            parser.add_argument(option.flag, choices=option.choices, default=default, help=option.help)
            continue
        parser.add_argument(option.flag, type=_argument_type(option), default=default,
                            metavar=option.metavar, help=option.help)


def _argument_type(option: Option):
    def convert(text: str) -> object:
        try:
            return option.coerce(text, option.flag)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).replace(f"{option.flag} must be", "must be")) from None

    convert.__name__ = option.kind  # argparse names the type in its messages
    return convert


def to_argv(values: dict) -> list[str]:
    """Options (by name) as command-line flags, in the table's order; None and False left out."""
    argv: list[str] = []
    for option in OPTIONS:
        value = values.get(option.name)
        if value is None or value is False:
            continue
        argv += [option.flag] if option.kind == "flag" else [option.flag, str(value)]
    return argv


# What followed "--" on the script's command line (None: split_argv() was not called).
_PROGRAM_ARGV: tuple[str, ...] | None = None


def split_argv(argv: list[str] | None = None, tuned: tuple[str, ...] = ()) -> list[str]:
    """Split a generated script's command line at "--": the search's options come before it and
    are returned; what follows is the user's program's own command line, left in sys.argv after
    the script's name, where argparse (run by the program's top level before the search starts)
    reads it. `python model_tune.py --max-evals 20 -- --data-dir data`.
    `tuned`: the flags of the program's options whose defaults the search tunes; one given after
    "--" would fix that value in every trial, so it stops the script (exit 2) with one line."""
    global _PROGRAM_ARGV
    argv = sys.argv if argv is None else argv
    rest = argv[1:]
    cut = rest.index("--") if "--" in rest else len(rest)
    own, program = rest[:cut], rest[cut + 1:]
    for arg in program:
        flag = next((f for f in tuned if _sets(arg, f)), None)
        if flag is not None:
            print("error: %s after \"--\" sets %s, which the search tunes: every trial would run with "
                  "that value; leave it out (trial 1 runs its default), or end the line that defines "
                  "it (add_argument, flags.DEFINE_...) with `# optpar: skip` to keep it out of the search"
                  % (arg, flag), file=sys.stderr)
            raise SystemExit(2)
    argv[1:] = program
    _PROGRAM_ARGV = tuple(program)
    return own


def program_argv() -> tuple[str, ...] | None:
    """The program's own command line split_argv() kept, or None."""
    return _PROGRAM_ARGV


def _sets(arg: str, flag: str) -> bool:
    """Whether argparse would read `arg` as `flag`: the flag itself, `--flag=value`, a prefix of a
    long flag (argparse's abbreviations), `-fVALUE` for a short one."""
    if flag.startswith("--"):
        name = arg.split("=", 1)[0]
        return arg.startswith("--") and len(name) > 2 and flag.startswith(name)
    return flag.startswith("-") and arg.startswith(flag) and not arg.startswith("--")
