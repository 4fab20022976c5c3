"""absl's `app.run(main)` for a search: the program's flags are parsed from its command line once
(what followed "--", which split_argv left in sys.argv), and each trial sets the flags the search
tunes before main runs. absl's own app.run would end the process when main returns.
"""

from __future__ import annotations

import sys

_ARGV: list[str] | None = None  # what the flags left of the command line: main's argv


def absl_flags(values: dict | None = None) -> list[str]:
    """Parse the program's flags (once), set those in `values` ({name: value}), and return main's argv."""
    global _ARGV
    from absl import flags

    if _ARGV is None:
        try:
            _ARGV = flags.FLAGS(sys.argv)
        except flags.Error as exc:  # an unknown flag, a bad value: said as app.run says it, then stop
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    for name, value in (values or {}).items():
        setattr(flags.FLAGS, name, value)
    return list(_ARGV)
