"""optpar's runtime: what a generated tuning script imports.

    from optpar.runtime import main, optpar_fit, quiet_native_logs

Importing it is light (the standard library only): Keras, TensorFlow and hyperopt are imported
when a search starts. `optpar refactor --standalone` carries this package inside the script.
"""

from optpar.runtime.fit import optpar_fit
from optpar.runtime.logs import quiet_native_logs
from optpar.runtime.search import main
from optpar.runtime.state import API_VERSION

__all__ = ["API_VERSION", "main", "optpar_fit", "quiet_native_logs"]
