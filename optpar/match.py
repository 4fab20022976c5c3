"""The analysis under its former name, for the modules that still import it from here
(rewrite, emit). New code imports `optpar.analysis`."""

from optpar.analysis import Analysis, Diagnostic, FitCall, Site, Span, analyze

__all__ = ["Analysis", "Diagnostic", "FitCall", "Site", "Span", "analyze"]
