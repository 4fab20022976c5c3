"""The Spark backend: hyperopt's SparkTrials on a session of our own, with the runtime sent to
the workers by value (they need hyperopt and Keras, not optpar), one Python worker reused from
trial to trial, and a check, before the search starts, that a trial can be sent at all."""

from __future__ import annotations

import inspect
import os
import sys

from optpar.runtime.store import atomic_write
from optpar.runtime.trial import error_text


def ship_runtime() -> None:
    """Pickle optpar's runtime by value: a worker without optpar installed runs the trials, and
    one with another optpar runs this one's."""
    from pyspark import cloudpickle

    import optpar.runtime

    cloudpickle.register_pickle_by_value(optpar.runtime)


class DrainingRDD:
    """An RDD whose ``mapPartitions`` reads each partition to its end before
    the function runs. hyperopt's trial task ignores its one-element input,
    and pyspark does not reuse a Python worker that left input unread, so
    every trial paid a new interpreter and ``import keras``. Everything else
    is the RDD's own."""

    def __init__(self, rdd):
        self._rdd = rdd

    def mapPartitions(self, f, *args, **kwargs):
        def drained(iterator):
            return f(iter(list(iterator)))

        return self._rdd.mapPartitions(drained, *args, **kwargs)

    def withResources(self, profile):
        return DrainingRDD(self._rdd.withResources(profile))

    def __getattr__(self, name):
        return getattr(self._rdd, name)


class ReusingContext:
    """A SparkContext whose ``parallelize`` gives a :class:`DrainingRDD`."""

    def __init__(self, context):
        self._context = context

    def parallelize(self, *args, **kwargs):
        return DrainingRDD(self._context.parallelize(*args, **kwargs))

    def __getattr__(self, name):
        return getattr(self._context, name)


class ReusingSession:
    """The SparkSession handed to SparkTrials: its own, with the context above."""

    def __init__(self, session):
        self._session = session
        self.sparkContext = ReusingContext(session.sparkContext)

    def __getattr__(self, name):
        return getattr(self._session, name)


def unshippable(objective) -> str | None:
    """Why Spark cannot send a trial to its workers (None when it can): the
    objective travels pickled, with ``run_trial`` and every global it reads.
    Names the global that cannot be pickled (a tf.data.Dataset, a file
    handle, ...), following the functions ``run_trial`` calls."""
    from pyspark import cloudpickle

    ship_runtime()
    try:
        cloudpickle.dumps(objective)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means it cannot be sent
        whole = error_text(exc)
    run_trial = objective.program.run_trial
    namespace = run_trial.__globals__
    seen = set()

    def codes(code):
        yield code
        for const in code.co_consts:
            if hasattr(const, "co_names"):
                yield from codes(const)

    def find(function):
        for code in codes(function.__code__):
            for name in code.co_names:
                if name in seen or name not in namespace:
                    continue
                seen.add(name)
                value = namespace[name]
                if inspect.isfunction(value) and value.__module__ == function.__module__:
                    found = find(value)
                    if found:
                        return found
                    continue
                try:
                    cloudpickle.dumps(value)
                except Exception as exc:  # noqa: BLE001
                    return "%s (a %s: %s)" % (name, type(value).__name__, error_text(exc))
        return None

    culprit = find(run_trial) or whole
    return ("--backend spark sends run_trial() and what it reads to the workers, and %s cannot be "
            "sent; create it in the code that runs per trial, or use --backend local" % culprit)


def spark_trials(args, source: str):
    """SparkTrials on a session that stays on 127.0.0.1 in local mode, with the runtime sent to
    the workers by value: they do not need optpar installed."""
    import hyperopt

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # python3 on PATH may lack hyperopt
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*pandas >= 3.0.0.*")
    warnings.filterwarnings("ignore", message="Spark session is not provided.*")
    from pyspark.sql import SparkSession

    logging.getLogger("py4j").setLevel(logging.ERROR)
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    master = args.spark_master or "local[%d]" % args.parallelism
    # Spark's default log4j profile prints INFO/WARN chatter: use an ERROR-only one.
    log_conf = os.path.join(os.path.abspath(args.out), ".spark-log4j2.properties")
    atomic_write(log_conf, "rootLogger.level = error\n"
                 "rootLogger.appenderRef.stderr.ref = console\n"
                 "appender.console.type = Console\n"
                 "appender.console.name = console\n"
                 "appender.console.target = SYSTEM_ERR\n"
                 "appender.console.layout.type = PatternLayout\n"
                 "appender.console.layout.pattern = spark %p %c{1}: %m%n\n")
    session = (
        SparkSession.builder.master(master)
        .appName("optpar " + os.path.basename(source))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.python.worker.reuse", "true")
        .config("spark.log.level", "ERROR")
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.configurationFile=file:" + log_conf)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    ship_runtime()
    return hyperopt.SparkTrials(parallelism=args.parallelism, spark_session=ReusingSession(session),
                                 timeout=None if args.timeout is None else max(1, int(args.timeout)))
