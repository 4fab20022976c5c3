import textwrap

import pytest

from optpar.config import Config, ConfigError, load_config
from optpar.errors import UserError


def put(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def project(tmp_path):
    """tmp_path/proj/sub/model.py with no config anywhere (tmp_path has none above it)."""
    model = put(tmp_path / "proj" / "sub" / "model.py", "import keras\n")
    return model


def test_no_config(project):
    config = load_config(project)
    assert config == Config(path=None)
    assert config.wants("anything")
    assert config.search_argv() == []
    assert config.model_paths() == []


def test_setup_cfg(project):
    root = project.parent.parent
    put(root / "extra.csv", "Layer\n")
    cfg = put(
        root / "setup.cfg",
        """\
        [metadata]
        name = x

        [optpar]
        metadata = extra.csv
        include =
            dense*
            adam_*
        exclude = *_epochs, dense_2_*
        models = sub/*.py
        max-evals = 30
        algo = rand
        seed = 7
        timeout = 90.5
        mode = max
        metric = val_accuracy
        patience = 0
        prune = median
        budget-epochs = 120
        folds = 5
        tensorboard = runs/tb
        backend = local
        parallelism = 2
        out = runs
        """,
    )
    config = load_config(project)
    assert config.path == str(cfg)
    assert config.metadata == (str(root / "extra.csv"),)
    assert config.include == ("dense*", "adam_*")
    assert config.exclude == ("*_epochs", "dense_2_*")
    assert config.models == ("sub/*.py",)
    assert dict(config.search) == {
        "max_evals": 30, "algo": "rand", "seed": 7, "timeout": 90.5, "mode": "max",
        "metric": "val_accuracy", "patience": 0, "prune": "median", "budget_epochs": 120,
        "folds": 5, "tensorboard": "runs/tb", "backend": "local", "parallelism": 2, "out": "runs",
    }
    assert config.search_argv() == [
        "--max-evals", "30", "--algo", "rand", "--seed", "7", "--out", "runs", "--timeout", "90.5",
        "--metric", "val_accuracy", "--mode", "max", "--patience", "0", "--prune", "median",
        "--budget-epochs", "120", "--folds", "5", "--tensorboard", "runs/tb", "--backend", "local", "--parallelism", "2",
    ]
    assert config.model_paths() == [project.resolve()]
    assert config.is_model(project)
    assert not config.is_model(root / "other.py")


def test_pyproject(project):
    root = project.parent.parent
    put(root / "meta" / "extra.csv", "Layer\n")
    py = put(
        root / "pyproject.toml",
        """\
        [tool.black]
        line-length = 100

        [tool.optpar]
        metadata = ["meta/extra.csv"]
        include = ["dense*"]
        exclude = "dense_1_*"
        models = ["**/model.py"]
        max_evals = 12
        timeout = 60
        algo = "anneal"
        """,
    )
    config = load_config(project)
    assert config.path == str(py)
    assert config.metadata == (str(root / "meta" / "extra.csv"),)
    assert config.exclude == ("dense_1_*",)
    assert config.search_argv() == ["--max-evals", "12", "--algo", "anneal", "--timeout", "60"]
    assert config.model_paths() == [project.resolve()]


def test_start_may_be_a_folder(project):
    put(project.parent / "setup.cfg", "[optpar]\nalgo = tpe\n")
    assert load_config(project.parent).search == {"algo": "tpe"}


def test_walks_up_and_nearest_with_section_wins(project):
    root = project.parent.parent
    put(root / "setup.cfg", "[optpar]\nalgo = rand\n")
    # nearer files without an optpar section are passed over
    put(project.parent / "setup.cfg", "[flake8]\nmax-line-length = 100\n")
    put(project.parent / "pyproject.toml", "[tool.black]\nline-length = 100\n")
    assert load_config(project).search == {"algo": "rand"}
    assert load_config(project).path == str(root / "setup.cfg")
    # a nearer file with a section wins
    put(project.parent / "pyproject.toml", "[tool.optpar]\nalgo = 'anneal'\n")
    assert load_config(project).search == {"algo": "anneal"}
    # optpar mentioned but no section: still passed over
    put(project.parent / "pyproject.toml", "[tool.black]\n# optpar is configured elsewhere\n")
    assert load_config(project).search == {"algo": "rand"}


def test_pyproject_wins_over_setup_cfg_in_same_folder(project):
    put(project.parent / "setup.cfg", "[optpar]\nalgo = rand\n")
    put(project.parent / "pyproject.toml", "[tool.optpar]\nalgo = 'atpe'\n")
    config = load_config(project)
    assert config.path == str(project.parent / "pyproject.toml")
    assert config.search == {"algo": "atpe"}


def test_empty_section_is_a_config(project):
    cfg = put(project.parent / "setup.cfg", "[optpar]\n")
    config = load_config(project)
    assert config.path == str(cfg)
    assert config.search == {}


def test_wants():
    config = Config(path="x", include=("dense*", "adam_*"), exclude=("dense_2_*",))
    assert config.wants("dense_units")
    assert config.wants("adam_learning_rate")
    assert not config.wants("dense_2_units")
    assert not config.wants("fit_epochs")
    assert not config.wants("Dense_units")  # case-sensitive
    only_exclude = Config(path="x", exclude=("*_epochs",))
    assert only_exclude.wants("dense_units")
    assert not only_exclude.wants("fit_epochs")


CFG_ERRORS = [
    ("max-evals = 0", "max-evals must be positive"),
    ("max-evals = ten", "max-evals must be an integer"),
    ("parallelism = -1", "parallelism must be positive"),
    ("patience = -1", "patience must be >= 0"),
    ("seed = 1.5", "seed must be an integer"),
    ("timeout = 0", "timeout must be a positive number"),
    ("timeout = soon", "timeout must be a number"),
    ("algo = bayes", "algo must be one of tpe, rand, anneal, atpe"),
    ("mode = up", "mode must be one of min, max"),
    ("backend = ray", "backend must be one of local, spark"),
    ("prune = hyperband", "prune must be one of asha, median, none"),
    ("budget-epochs = 0", "budget-epochs must be positive"),
    ("metric =", "metric must be a non-empty string"),
    ("max_evalz = 3", "unknown key 'max_evalz' in [optpar] (did you mean 'max-evals'?)"),
    ("metadata = missing.csv", "metadata file not found: missing.csv"),
    ("models = /abs/*.py", "must be relative"),
    ("models = a**/*.py", "bad glob"),
    ("include = dense[", "unclosed '['"),
]


@pytest.mark.parametrize("line, message", CFG_ERRORS)
def test_setup_cfg_errors(project, line, message):
    cfg = put(project.parent / "setup.cfg", f"[metadata]\nname = x\n\n[optpar]\nout = runs\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_config(project)
    text = str(info.value)
    assert text.startswith(f"{cfg}:6:1: error: ")
    assert message in text
    assert "\n" not in text
    assert isinstance(info.value, UserError)


TOML_ERRORS = [
    ("max-evals = '30'", "max-evals must be an integer"),
    ("max-evals = true", "max-evals must be an integer"),
    ("timeout = 'soon'", "timeout must be a number"),
    ("timeout = -1.0", "timeout must be a positive number"),
    ("algo = 3", "algo must be one of"),
    ("include = [1, 2]", "include must be a list of strings"),
    ("models = {a = 1}", "models must be a list of strings"),
    ("colour = 'red'", "unknown key 'colour' in [tool.optpar]"),
    ("'seed' = -3", "seed must be >= 0"),
]


@pytest.mark.parametrize("line, message", TOML_ERRORS)
def test_pyproject_errors(project, line, message):
    py = put(project.parent / "pyproject.toml", f"[tool.black]\nx = 1\n\n[tool.optpar]\nout = 'runs'\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_config(project)
    text = str(info.value)
    assert text.startswith(f"{py}:6:1: error: ")
    assert message in text
    assert "\n" not in text


def test_key_line_in_multiline_value(project):
    cfg = put(project.parent / "setup.cfg", "[optpar]\ninclude =\n    dense*\nmodels =\n    ok/*.py\n    /abs.py\n")
    with pytest.raises(ConfigError) as info:
        load_config(project)
    assert str(info.value).startswith(f"{cfg}:4:1: error: models")


def test_dash_and_underscore_spelling_of_same_key(project):
    cfg = put(project.parent / "setup.cfg", "[optpar]\nmax-evals = 3\nmax_evals = 4\n")
    with pytest.raises(ConfigError) as info:
        load_config(project)
    assert str(info.value).startswith(f"{cfg}:3:1: error: 'max_evals' repeats 'max-evals'")


def test_duplicate_key_in_setup_cfg(project):
    cfg = put(project.parent / "setup.cfg", "[optpar]\nalgo = tpe\nalgo = rand\n")
    with pytest.raises(ConfigError) as info:
        load_config(project)
    assert str(info.value) == f"{cfg}:3:1: error: duplicate key 'algo' in [optpar]"


def test_invalid_toml_has_position(project):
    py = put(project.parent / "pyproject.toml", "[tool.optpar]\nalgo = 'tpe\n")
    with pytest.raises(ConfigError) as info:
        load_config(project)
    text = str(info.value)
    assert text.startswith(f"{py}:2:")
    assert "invalid TOML" in text
    assert "\n" not in text


def test_invalid_setup_cfg_has_position(project):
    cfg = put(project.parent / "setup.cfg", "[optpar]\nalgo = tpe\nthis line is junk\n")
    with pytest.raises(ConfigError) as info:
        load_config(project)
    assert str(info.value).startswith(f"{cfg}:3:1: error: ")


def test_tool_optpar_must_be_a_table(project):
    py = put(project.parent / "pyproject.toml", "[tool]\nname = 'x'\noptpar = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(project)
    assert str(info.value) == f"{py}:3:1: error: tool.optpar must be a table"


def test_config_is_immutable(project):
    put(project.parent / "setup.cfg", "[optpar]\nalgo = tpe\n")
    config = load_config(project)
    with pytest.raises(TypeError):
        config.search["algo"] = "rand"  # type: ignore[index]
