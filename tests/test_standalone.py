"""`optpar refactor --standalone`: the script carries optpar's runtime and runs where `import optpar`
is impossible, on this machine and on Spark workers that lack optpar too. The default script
imports the runtime instead; Spark workers get it by value either way."""
from __future__ import annotations

import ast
import csv
import os
import subprocess
import sys
import textwrap

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


@pytest.fixture
def without_optpar(tmp_path):
    folder = tmp_path / "hide"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(HIDE_OPTPAR)
    env = {**os.environ, "PYTHONPATH": str(folder), "CUDA_VISIBLE_DEVICES": ""}
    probe = subprocess.run([sys.executable, "-c", "import importlib.util as u; print(u.find_spec('optpar'))"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
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


def test_spark_workers_without_optpar_run_the_trials(fixture_copy, without_optpar):
    """The runtime travels to the workers by value (cloudpickle), so a cluster whose Python has
    hyperopt and Keras but no optpar runs the search."""
    pytest.importorskip("pyspark")
    script = _standalone(fixture_copy)
    proc = subprocess.run([sys.executable, script.name, "--max-evals", "2", "--out", "runs", "--quiet",
                           "--backend", "spark", "--parallelism", "1"],
                          cwd=script.parent, env=without_optpar, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = [r["status"] for r in _rows(script.parent)]
    assert statuses[0] == "ok" and statuses[1] in ("ok", "pruned"), statuses  # both trials trained


def test_a_standalone_script_stays_standalone_when_the_hook_regenerates_it(fixture_copy):
    script = _standalone(fixture_copy)
    model = script.with_name("regression_constants.py")
    model.write_text(model.read_text().replace("HIDDEN = 64", "HIDDEN = 32"))
    proc = run_optpar("sync", model.name, cwd=model.parent)
    assert proc.returncode == 1, proc.stderr  # it rewrote the script
    assert "# optpar's runtime, carried in this script" in script.read_text()
    assert run_optpar("sync", "--check", model.name, cwd=model.parent).returncode == 0
