"""optpar's runtime: what a generated tuning script imports.

    from optpar.runtime import absl_flags, idle, main, optpar_fit, quiet_native_logs, split_argv

Importing it is light (the standard library only): Keras, TensorFlow and hyperopt are imported
when a search starts. It sets the JAX and torch GPU allocator defaults (devices.py).
`optpar refactor --standalone` carries this package inside the script.
"""

from optpar.runtime.devices import share_devices

share_devices()  # before any Keras backend starts (see devices.py)

from optpar.runtime.absl_run import absl_flags  # noqa: E402
from optpar.runtime.fit import optpar_fit  # noqa: E402
from optpar.runtime.skipping import idle  # noqa: E402
from optpar.runtime.logs import quiet_native_logs  # noqa: E402
from optpar.runtime.options import split_argv  # noqa: E402
from optpar.runtime.search import main  # noqa: E402
from optpar.runtime.state import API_VERSION  # noqa: E402

__all__ = ["API_VERSION", "absl_flags", "idle", "main", "optpar_fit", "quiet_native_logs", "split_argv"]
