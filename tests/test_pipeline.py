"""The study runner plans papermill runs in order with the right parameters."""

from __future__ import annotations

import json
import os
import shutil
import sys

import nbformat
import pytest
import yaml

from glacier_utils import config
from tools import pipeline


def test_quick_plan_passes_no_parameters_to_the_single_run_notebooks():
    runs = pipeline.plan("quick")
    single = [r for r in runs if not r.notebook.startswith("03_")]
    assert all(r.parameters == {} for r in single)
    assert [r.notebook for r in runs] == sorted(r.notebook for r in runs)


def test_training_notebook_runs_once_per_network_and_scene():
    runs = [r for r in pipeline.plan("paper", force=True) if r.notebook.startswith("03_")]
    in_place, copies = runs[0], runs[1:]
    assert in_place.output == pipeline.EXECUTED_DIR / "notebooks" / in_place.source.name  # the book's page
    assert "model" not in in_place.parameters  # ... with the notebook's own defaults
    assert {(r.parameters["model"], r.parameters["scene"]) for r in copies} | {("m_landsnet", 1)} == {
        (m, s) for m in config.MODEL_NAMES for s in (1, 2)}
    assert len(copies) == 2 * len(config.MODEL_NAMES) - 1
    assert all(r.parameters["profile"] == "paper" and r.parameters["force"] for r in runs)
    assert all(r.output.parent == pipeline.RUNS_DIR for r in copies)


def test_every_study_notebook_is_planned_in_order_then_the_results_chapter():
    runs = pipeline.plan("quick")
    names = [r.notebook for r in runs]
    assert sorted(set(names)) == ["01_data_preparation", "02_band_ratio_threshold_sweep", "03_train_networks",
                                  "04_scene_comparison", "05_time_series_1986_2021", "results"]
    assert names == sorted(names)
    assert runs[-1].source == pipeline.RESULTS_NOTEBOOK
    assert runs[-1].output == pipeline.EXECUTED_DIR / "book" / "results.ipynb"


def test_pages_only_plan_runs_each_page_of_the_book_once():
    runs = pipeline.plan("paper", pages_only=True)
    assert [r.source for r in runs] == pipeline.executed_pages()
    assert all(r.parameters["profile"] == "paper" for r in runs)


def test_results_chapter_gets_the_profile_but_not_force():
    results = pipeline.plan("paper", force=True)[-1]
    assert results.parameters == {"profile": "paper"}


def test_unknown_profile_is_rejected_before_anything_runs():
    with pytest.raises(ValueError, match="unknown profile"):
        pipeline.plan("huge")


def test_committed_notebooks_are_never_papermill_outputs():
    for run in pipeline.plan("quick"):
        assert run.output != run.source
        assert pipeline.EXECUTED_DIR in run.output.parents


def test_staging_refuses_to_build_a_book_without_executed_notebooks(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "EXECUTED_DIR", tmp_path / "executed")
    with pytest.raises(FileNotFoundError, match="01_data_preparation"):
        pipeline.stage_book()


PANEL_URL = "https://cdn.holoviz.org/panel/1.9.4/dist/css/loading.css?v=1.9.4"


def _staged_notebook(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "page.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": [{"data": {"text/html": text}}]}]}))
    return path


def test_panel_assets_are_vendored_and_the_links_made_relative(tmp_path):
    page = _staged_notebook(tmp_path / "notebooks", f'<link href="{PANEL_URL}">')
    copied = pipeline.vendor_panel_assets(tmp_path)
    assert copied == [tmp_path / "_static" / "panel" / "css" / "loading.css"]
    assert copied[0].read_text().strip()
    text = page.read_text()
    assert "cdn.holoviz.org" not in text
    assert '../_static/panel/css/loading.css?v=1.9.4' in text


def test_a_link_to_a_panel_asset_that_is_not_installed_is_named(tmp_path):
    _staged_notebook(tmp_path / "notebooks", PANEL_URL.replace("loading.css", "no_such_sheet.css"))
    with pytest.raises(FileNotFoundError, match="no_such_sheet.css"):
        pipeline.vendor_panel_assets(tmp_path)


def _pinned_notebook(path, source, outputs=()):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell(source, metadata={"tags": [pipeline.PINNED_TAG]}),
    ])
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in outputs]
    nbformat.write(nb, path)
    return path


def test_update_references_stores_only_the_pinned_outputs_and_leaves_the_notebook_alone(tmp_path):
    committed = _pinned_notebook(tmp_path / "committed.ipynb", "print(2)")
    executed = _pinned_notebook(tmp_path / "executed.ipynb", "print(2)", ["2\n"])
    ran = nbformat.read(executed, as_version=4)
    ran.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="not pinned\n")]
    nbformat.write(ran, executed)
    store, before = tmp_path / "pinned.json", committed.read_text()

    assert pipeline.update_references([(committed, executed)], store, tmp_path) == ["committed.ipynb"]
    assert pipeline.read_pinned_results(store) == {
        "committed.ipynb": {"print(2)": [{"name": "stdout", "output_type": "stream", "text": "2\n"}]}}
    assert committed.read_text() == before
    assert pipeline.update_references([(committed, executed)], store, tmp_path) == []  # already up to date
    assert not list(tmp_path.glob("*.tmp"))


def test_update_references_refuses_an_executed_copy_of_another_version(tmp_path):
    committed = _pinned_notebook(tmp_path / "committed.ipynb", "print(3)")
    executed = _pinned_notebook(tmp_path / "executed.ipynb", "print(2)", ["2\n"])
    store = tmp_path / "pinned.json"
    with pytest.raises(ValueError, match="older version"):
        pipeline.update_references([(committed, executed)], store, tmp_path)
    assert not store.exists()


def test_update_references_refuses_a_paper_profile_run(tmp_path):
    committed = _pinned_notebook(tmp_path / "committed.ipynb", "print(2)")
    executed = _pinned_notebook(tmp_path / "executed.ipynb", "print(2)", ["2\n"])
    ran = nbformat.read(executed, as_version=4)
    ran.metadata["papermill"] = {"parameters": {"profile": "paper"}}
    nbformat.write(ran, executed)
    with pytest.raises(ValueError, match="profile 'paper'"):
        pipeline.update_references([(committed, executed)], tmp_path / "pinned.json", tmp_path)


@pytest.mark.parametrize("outside", ["Agg", None])
def test_kernels_draw_figures_inline_whatever_the_environment_says(monkeypatch, outside):
    if outside is None:
        monkeypatch.delenv("MPLBACKEND", raising=False)
    else:
        monkeypatch.setenv("MPLBACKEND", outside)
    with pipeline.kernel_environment():
        assert os.environ["MPLBACKEND"] == pipeline.INLINE_BACKEND
    assert os.environ.get("MPLBACKEND") == outside


def test_kernels_inherit_a_quiet_tensorflow_unless_the_user_chose_otherwise(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    with pipeline.kernel_environment():
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    with pipeline.kernel_environment():
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


# --------------------------------------------------------------------------------------------
# Study-wide options: --study and --data-seed reach only the notebooks that declare them
# --------------------------------------------------------------------------------------------
def _parameter_notebook(path, source):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture()
def two_notebooks(tmp_path, monkeypatch):
    """A study of two notebooks, one declaring study and data_seed, and a results chapter declaring neither."""
    folder = tmp_path / "notebooks"
    _parameter_notebook(folder / "01_first.ipynb",
                        'profile = "quick"  # "quick" or "paper"\nstudy = "thr"  # a "study" file\ndata_seed = None\n')
    _parameter_notebook(folder / "02_second.ipynb", 'profile = "quick"\nforce = False\n')
    results = _parameter_notebook(tmp_path / "book" / "results.ipynb", 'profile = "quick"\n')
    monkeypatch.setattr(pipeline, "NOTEBOOK_DIR", folder)
    monkeypatch.setattr(pipeline, "RESULTS_NOTEBOOK", results)
    monkeypatch.setattr(pipeline, "EXECUTED_DIR", tmp_path / "_build" / "executed")
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path)
    return folder


def test_study_and_data_seed_go_only_to_the_notebooks_that_declare_them(two_notebooks):
    runs = pipeline.plan("quick", study="thr", data_seed=7)
    assert [r.parameters for r in runs] == [{"study": "thr", "data_seed": 7}, {}, {}]
    notes = pipeline.ignored_options(runs, "thr", 7)
    assert notes == ["note: 02_second.ipynb has no parameter study or data_seed: it runs with its own",
                     "note: results.ipynb has no parameter study or data_seed: it runs with its own"]
    assert [r.parameters for r in pipeline.plan("quick")] == [{}, {}, {}]  # nothing given: notebook defaults


def test_a_study_without_the_band_ratio_bands_skips_notebook_02_with_its_note(tmp_path):
    from glacier_utils import study as studies

    text = (config.PACKAGE_DIR / "studies" / "thr.toml").read_text().replace("bands = [1, 2, 3, 4, 5, 6, 7]", "bands = [1, 2, 3, 4]")
    (tmp_path / "four.toml").write_text(text.replace('name = "thr"', 'name = "four"'))
    skipped = pipeline.skipped_pages(tmp_path / "four.toml")
    assert [p.name for p in skipped] == ["02_band_ratio_threshold_sweep.ipynb"]  # still the simulator: 05 runs
    assert list(skipped.values()) == [studies.load_study(tmp_path / "four.toml").band_ratio_note()]
    names = [r.source.name for r in pipeline.plan("smoke", pages_only=True, study=tmp_path / "four.toml")]
    assert "02_band_ratio_threshold_sweep.ipynb" not in names and "04_scene_comparison.ipynb" in names
    assert pipeline.skipped_pages("thr") == {}


def test_executed_copies_can_go_to_a_tree_of_their_own(tmp_path):
    runs = pipeline.plan("smoke", executed_dir=tmp_path / "executed")
    assert all(r.output.is_relative_to(tmp_path / "executed") and r.root == tmp_path / "executed" for r in runs)
    assert pipeline.kernel_log(runs[0]) == tmp_path / "logs" / "notebooks" / "01_data_preparation.log"
    assert any(r.output.parent == tmp_path / "executed" / "notebooks" / "runs" for r in runs)


def test_parameters_are_found_whatever_their_comments_say(two_notebooks):
    assert pipeline.declared_parameters(two_notebooks / "01_first.ipynb") == {"profile", "study", "data_seed"}


def test_a_study_file_is_checked_before_anything_runs_and_passed_as_an_absolute_path(tmp_path, monkeypatch):
    from glacier_utils.errors import DataError

    with pytest.raises(DataError, match="no such study"):
        pipeline.plan("quick", study="nowhere")
    assert pipeline.resolve_study("thr") == "thr"
    study_file = tmp_path / "mine.toml"
    study_file.write_text((config.PACKAGE_DIR / "studies" / "thr.toml").read_text())
    monkeypatch.chdir(tmp_path)
    assert pipeline.resolve_study("mine.toml") == str(study_file.resolve())


def test_the_command_line_takes_study_and_data_seed():
    args = pipeline.add_arguments(__import__("argparse").ArgumentParser()).parse_args(
        ["--study", "thr", "--data-seed", "7", "--profile", "paper"])
    assert (args.study, args.data_seed, args.profile) == ("thr", 7, "paper")


# --------------------------------------------------------------------------------------------
# Quiet runs: one line per notebook, the kernels' own stderr in a log, a closing table
# --------------------------------------------------------------------------------------------
def test_a_run_prints_one_line_and_keeps_the_kernels_noise_in_its_log(tmp_path, monkeypatch, capfd):
    source = tmp_path / "noisy.ipynb"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('x = 1', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('import os\nos.write(2, b"C++ start-up noise\\n")\n'
                                  'print(os.environ["TF_CPP_MIN_LOG_LEVEL"], x)'),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, source)
    monkeypatch.setattr(pipeline, "EXECUTED_DIR", tmp_path / "executed")
    monkeypatch.setattr(pipeline, "KERNEL_LOG_DIR", tmp_path / "logs")
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    run = pipeline.NotebookRun(source, {"x": 5}, tmp_path / "executed" / "noisy.ipynb")

    timings = pipeline.execute([run])

    out, err = capfd.readouterr()
    assert out.count("\n") == 1 and out.startswith("[1/1] noisy (x=5) ...") and out.rstrip().endswith(" s")
    assert "C++ start-up noise" not in out + err and "without encryption" not in out + err
    log = pipeline.kernel_log(run).read_text()
    assert "C++ start-up noise" in log and "without encryption" not in log  # IPC, not unencrypted TCP
    executed = nbformat.read(run.output, as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "2 5\n"  # the kernel inherited TF_CPP_MIN_LOG_LEVEL=2
    assert list(timings.columns) == ["notebook", "parameters", "seconds"] and timings.parameters[0] == "x=5"
    assert pipeline.summary(timings).splitlines()[-1].split()[0] == "total"


# --------------------------------------------------------------------------------------------
# The repository and commit, read from git, stamped into the staged copies only
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("remote, url", [
    ("git@github.com:someone/glaciers.git", "https://github.com/someone/glaciers"),
    ("https://github.com/someone/glaciers.git", "https://github.com/someone/glaciers"),
    ("https://user:s3cret@github.com/someone/glaciers", "https://github.com/someone/glaciers"),
    ("ssh://git@gitlab.example.org:2222/group/sub/glaciers.git", "https://gitlab.example.org/group/sub/glaciers"),
    ("/srv/git/glaciers.git", None),
    ("file:///srv/git/glaciers.git", None),
    ("", None),
])
def test_a_remote_becomes_a_web_address_without_credentials(remote, url):
    assert pipeline.remote_web_url(remote) == url


def _git(cwd, *args):
    import subprocess

    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture()
def checkout(tmp_path):
    """A git repository with one commit."""
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    (root / "a.txt").write_text("a\n")
    _git(root, "add", "a.txt")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "one")
    return root


def test_the_origin_is_read_from_git(checkout):
    import subprocess

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True).stdout.strip()
    assert pipeline.read_origin(checkout) == pipeline.Origin(url=None, commit=head, dirty=False, pushed=False)
    _git(checkout, "remote", "add", "origin", "git@github.com:someone/glaciers.git")
    (checkout / "a.txt").write_text("changed\n")
    origin = pipeline.read_origin(checkout)
    assert (origin.url, origin.commit, origin.dirty, origin.pushed) == ("https://github.com/someone/glaciers", head,
                                                                         True, False)
    assert origin.requirement == f"git+https://github.com/someone/glaciers@{head}"
    assert origin.github_path == "someone/glaciers"


def _setup_notebook(path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('profile = "quick"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(pipeline.INSTALL_BLOCK + "\nfrom glacier_utils import config\n"),
    ])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _staged_tree(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy2(config.PROJECT_ROOT / "_config.yml", source / "_config.yml")
    return source, _setup_notebook(source / "notebooks" / "01_x.ipynb")


GITHUB = pipeline.Origin(url="https://github.com/someone/glaciers", commit="a" * 40)


def test_the_staged_set_up_cells_and_launch_buttons_carry_the_origin_and_commit(tmp_path):
    source, notebook = _staged_tree(tmp_path)
    assert pipeline.stamp_staging(source, GITHUB) == []
    cell = nbformat.read(notebook, as_version=4).cells[1].source
    assert f'PACKAGE_SOURCE = "git+https://github.com/someone/glaciers@{"a" * 40}"' in cell
    settings = yaml.safe_load((source / "_config.yml").read_text())
    assert settings["repository"]["url"] == GITHUB.url and settings["repository"]["branch"] == "a" * 40
    assert settings["launch_buttons"]["colab_url"] == pipeline.COLAB_URL
    assert settings["html"]["use_repository_button"] is True
    badges = settings["parse"]["myst_substitutions"]["launch_badges"]
    assert f"github/someone/glaciers/blob/{'a' * 40}/notebooks/01_data_preparation.ipynb" in badges


def test_without_a_remote_the_book_has_no_launch_buttons_and_says_so(tmp_path):
    source, notebook = _staged_tree(tmp_path)
    before = notebook.read_text()
    messages = pipeline.stamp_staging(source, pipeline.Origin(url=None, commit="b" * 40))
    assert len(messages) == 1 and "no git remote 'origin'" in messages[0]
    assert notebook.read_text() == before  # the set-up cell keeps its empty PACKAGE_SOURCE
    settings = yaml.safe_load((source / "_config.yml").read_text())
    assert "colab_url" not in settings["launch_buttons"] and "url" not in settings["repository"]
    assert settings["html"]["use_repository_button"] is False
    assert settings["parse"]["myst_substitutions"]["launch_badges"] == ""


def test_a_remote_off_github_installs_but_has_no_colab_button(tmp_path):
    source, notebook = _staged_tree(tmp_path)
    origin = pipeline.Origin(url="https://gitlab.example.org/group/glaciers", commit="c" * 40, pushed=False)
    messages = pipeline.stamp_staging(source, origin)
    assert any("not on GitHub" in m for m in messages) and any("pushed" in m for m in messages)
    assert "git+https://gitlab.example.org/group/glaciers@" in nbformat.read(notebook, as_version=4).cells[1].source
    assert "colab_url" not in yaml.safe_load((source / "_config.yml").read_text())["launch_buttons"]


def _run_install_block(source, monkeypatch, installed):
    import importlib.util
    import subprocess

    calls = []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if installed else None)
    monkeypatch.setattr(subprocess, "run", lambda args, check: calls.append(args))
    exec(compile(source, "set-up cell", "exec"), {})
    return calls


def test_the_unstamped_set_up_cell_installs_nothing_and_says_how(monkeypatch):
    assert _run_install_block(pipeline.INSTALL_BLOCK, monkeypatch, installed=True) == []
    with pytest.raises(ModuleNotFoundError, match="pip install 'git\\+<repository URL>@<commit>'"):
        _run_install_block(pipeline.INSTALL_BLOCK, monkeypatch, installed=False)


def test_the_stamped_set_up_cell_installs_exactly_the_commit(tmp_path, monkeypatch):
    notebook = _setup_notebook(tmp_path / "n.ipynb")
    assert pipeline.stamp_install_cell(notebook, GITHUB.requirement) == 1
    cell = nbformat.read(notebook, as_version=4).cells[1].source
    calls = _run_install_block(cell.split("\nfrom glacier_utils")[0], monkeypatch, installed=False)
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", GITHUB.requirement]]


def test_the_committed_configuration_names_no_repository():
    settings = yaml.safe_load((config.PROJECT_ROOT / "_config.yml").read_text())
    assert "url" not in settings.get("repository", {})
    assert "colab_url" not in settings.get("launch_buttons", {})


def test_every_notebook_opens_with_the_stampable_set_up_cell():
    for page in pipeline.executed_pages():
        sources = [c.source for c in nbformat.read(page, as_version=4).cells if c.cell_type == "code"]
        assert any(s.startswith(pipeline.INSTALL_BLOCK) for s in sources), (
            f"{page.name}: its set-up cell should open with tools.pipeline.INSTALL_BLOCK")


def test_the_build_keeps_tensorflows_c_plus_plus_lines_in_a_log(tmp_path, capfd):
    log = tmp_path / "logs" / "diagrams.log"
    with pipeline.stderr_to(log):
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
    assert log.read_text() == "I0000 port.cc:153] oneDNN custom operations are on\n"


# --------------------------------------------------------------------------------------------
# The API reference: every docstring must be valid reST once tools.api_docstrings has read it
# --------------------------------------------------------------------------------------------
def test_plain_text_lists_and_bars_become_valid_rest():
    from tools.api_docstrings import normalise

    lines = ["Conventions:", "- a |x| ``a|b`` :func:`f`", "  more", "After.", "", "1. one", "2. two"]
    assert normalise(lines) == ["Conventions:", "", r"- a \|x\| ``a|b`` :func:`f`", "  more", "", "After.", "",
                                "1. one", "2. two"]
    assert normalise(["Example::", "    - literal"]) == ["Example::", "    - literal"]


def _docstrings():
    import ast

    for path in sorted(config.PACKAGE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    yield f"{path.relative_to(config.PACKAGE_DIR)}:{getattr(node, 'name', '(module)')}", doc


def test_every_docstring_is_valid_rest_for_the_api_reference():
    """The book's API pages are built with warnings as errors: a docstring reST cannot read fails here first."""
    import io

    import docutils.core
    from docutils import nodes
    from docutils.parsers.rst import roles

    from tools.api_docstrings import normalise

    def role(name, rawtext, text, lineno, inliner, options=None, content=None):
        return [nodes.literal(rawtext, text)], []

    for name in ("func", "mod", "data", "class", "meth", "attr", "obj", "exc", "cite", "math", "ref", "doc"):
        roles.register_local_role(name, role)
    problems = []
    for where, doc in _docstrings():
        stream = io.StringIO()
        docutils.core.publish_doctree("\n".join(normalise(doc.splitlines())), settings_overrides={
            "report_level": 2, "halt_level": 5, "warning_stream": stream})
        if stream.getvalue().strip():
            problems.append(f"{where}: {stream.getvalue().strip()}")
    assert not problems, "\n".join(problems)


def _ran(text):
    return [nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": text})]


def test_a_page_nbval_ran_is_stored_with_its_outputs_where_the_book_build_reads_it(two_notebooks):
    page = two_notebooks / "01_first.ipynb"
    notebook = nbformat.read(page, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("print('ok')"))
    written = pipeline.write_executed_copy(page, notebook, [[], _ran("ok\n")])
    assert written == pipeline.executed_copy(page)
    stored = nbformat.read(written, as_version=4)
    assert [c.execution_count for c in stored.cells] == [1, 2]
    assert stored.cells[1].outputs[0].text == "ok\n"
    assert nbformat.read(page, as_version=4).cells[0].outputs == []  # the committed notebook stays output-free


@pytest.mark.parametrize("outputs", [
    [None, _ran("ok\n")],  # a cell that did not run
    [[], [nbformat.from_dict({"output_type": "error", "ename": "ValueError", "evalue": "x", "traceback": []})]],
    [[]],  # fewer cells ran than the notebook has
])
def test_a_page_that_did_not_run_through_is_not_stored(two_notebooks, outputs):
    page = two_notebooks / "01_first.ipynb"
    notebook = nbformat.read(page, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("print('ok')"))
    assert pipeline.write_executed_copy(page, notebook, outputs) is None
    assert not pipeline.executed_copy(page).exists()


def test_only_a_page_of_the_book_is_stored(two_notebooks, tmp_path):
    other = _parameter_notebook(tmp_path / "elsewhere" / "scratch.ipynb", "x = 1\n")
    assert pipeline.write_executed_copy(other, nbformat.read(other, as_version=4), [[]]) is None
