"""optpar: find the literal hyperparameters of a Keras script and tune them with hyperopt."""

__version__ = "0.1.0"
