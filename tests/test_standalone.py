"""`optpar refactor --standalone`: the script carries optpar's runtime and runs where `import optpar`
is impossible, on this machine and on Spark workers that lack optpar too. The default script
imports the runtime instead; Spark workers get it by value either way."""
from __future__ import annotations

import ast
import csv
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import run_optpar

pytest.importorskip("hyperopt")
pytest.importorskip("keras")

# On PYTHONPATH, this sitecustomize makes optpar impossible to import in every process that
# starts with it: the driver, and Spark's JVM and Python workers, which inherit the variable.
HIDE_OPTPAR = textwrap.dedent('''\
    import os, sys
    sys.meta_path[:] = [f for f in sys.meta_path  # an editable install's finder (a class or an object)
                        if "editable" not in (getattr(f, "__module__", "") + type(f).__module__).lower()]
    sys.path[:] = [p for p in sys.path if not os.path.isdir(os.path.join(p or ".", "optpar"))]
    sys.path_importer_cache.clear()
''')


@pytest.fixture(scope="module")
def without_optpar(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hide")
    (folder / "sitecustomize.py").write_text(HIDE_OPTPAR)
    env = {**os.environ, "PYTHONPATH": str(folder), "CUDA_VISIBLE_DEVICES": ""}
    probe = subprocess.run([sys.executable, "-c", "import importlib.util as u; print(u.find_spec('optpar'))"],
                           cwd=folder, env=env, capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "None", probe.stdout + probe.stderr
    return env


def _standalone(fixture_copy, name="regression_constants.py"):
    path = fixture_copy(name)
    proc = run_optpar("refactor", path.name, "--standalone", cwd=path.parent)
    assert proc.returncode == 0, proc.stderr
    script = path.with_name(path.stem + "_tune.py")
    text = script.read_text()
    assert "# optpar's runtime, carried in this script" in text
    ast.parse(text)
    return script


def _rows(folder) -> list[dict]:
    with (folder / "runs" / "trials.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_standalone_script_runs_where_optpar_cannot_be_imported(fixture_copy, without_optpar):
    script = _standalone(fixture_copy)
    proc = subprocess.run([sys.executable, script.name, "--max-evals", "2", "--out", "runs", "--quiet"],
                          cwd=script.parent, env=without_optpar, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = [r["status"] for r in _rows(script.parent)]
    assert statuses[0] == "ok" and statuses[1] in ("ok", "pruned"), statuses  # both trials trained


def test_the_default_script_needs_optpar(fixture_copy, without_optpar):
    path = fixture_copy("regression_constants.py")
    assert run_optpar("refactor", path.name, cwd=path.parent).returncode == 0
    proc = subprocess.run([sys.executable, "regression_constants_tune.py", "--help"], cwd=path.parent,
                          env=without_optpar, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "No module named 'optpar'" in proc.stderr


@pytest.fixture(scope="module")
def cluster_without_optpar(without_optpar):
    """A real Spark standalone cluster on 127.0.0.1, a master and one worker with 2 cores started
    with the spark-class launcher pyspark ships, on a Python where optpar cannot be imported."""
    pyspark = pytest.importorskip("pyspark")

    def free_port():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    home = os.path.dirname(pyspark.__file__)
    launcher = os.path.join(home, "bin", "spark-class")
    env = dict(without_optpar, SPARK_HOME=home, SPARK_LOCAL_IP="127.0.0.1", SPARK_NO_DAEMONIZE="1")
    port = free_port()
    url = "spark://127.0.0.1:%d" % port
    master = subprocess.Popen([launcher, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(port), "--webui-port", str(free_port())],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([launcher, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                               "--cores", "2", "--memory", "2g", "--webui-port", str(free_port())],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        for line in worker.stdout:
            if "Successfully registered with master" in line:
                break
            if time.monotonic() > deadline:
                pytest.fail("the Spark worker did not register with its master")
        yield url
    finally:
        for process in (worker, master):
            process.terminate()
            process.wait(timeout=60)


@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")
def test_a_cluster_without_optpar_runs_the_trials_and_its_trial_1_is_the_local_trial_1(
        fixture_copy, without_optpar, cluster_without_optpar):
    """The runtime travels to the workers by value (cloudpickle), so a cluster whose Python has
    hyperopt and Keras but no optpar runs the search. And the user's seeding reaches the workers:
    the random state of the user's program where its training starts is shipped with each trial
    and restored there, so trial 1 on a cluster scores what it scores on one machine (before: the
    seed ran in the driver only). One cluster run checks both: a Spark start costs seconds."""
    script = _standalone(fixture_copy)

    def search(out, *extra):
        proc = subprocess.run([sys.executable, script.name, "--out", out, "--quiet", *extra],
                              cwd=script.parent, env=without_optpar, capture_output=True, text=True, timeout=400)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads((script.parent / out / "best.json").read_text())

    local = search("local", "--max-evals", "1")
    spark = search("runs", "--max-evals", "2", "--backend", "spark", "--spark-master", cluster_without_optpar)
    statuses = [r["status"] for r in _rows(script.parent)]
    assert statuses[0] == "ok" and statuses[1] in ("ok", "pruned"), statuses  # both trials trained
    assert math.isclose(spark["baseline_metric"], local["baseline_metric"], rel_tol=1e-6), (spark, local)


def test_a_standalone_script_stays_standalone_when_the_hook_regenerates_it(fixture_copy):
    script = _standalone(fixture_copy)
    model = script.with_name("regression_constants.py")
    model.write_text(model.read_text().replace("HIDDEN = 64", "HIDDEN = 32"))
    proc = run_optpar("sync", model.name, cwd=model.parent)
    assert proc.returncode == 1, proc.stderr  # it rewrote the script
    assert "# optpar's runtime, carried in this script" in script.read_text()
    assert run_optpar("sync", "--check", model.name, cwd=model.parent).returncode == 0
