"""`tuneline serve`'s address check: the local server has no login, so it stays on loopback."""

import os

import pytest

from tuneline_app.cli import main
from tuneline_app.serve import ServeError, check_address


def test_loopback_addresses_need_no_flag():
    for ip in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert check_address(ip, expose=False) is None


def test_a_non_loopback_address_is_refused_without_expose_and_says_what_it_would_expose():
    with pytest.raises(ServeError) as e:
        check_address("0.0.0.0", expose=False)
    assert "no login" in str(e.value) and "documents" in str(e.value) and "--expose" in str(e.value)
    warning = check_address("0.0.0.0", expose=True)
    assert warning.startswith("WARNING") and "deploy a ZenML server with authentication" in warning


def test_serve_up_on_all_interfaces_fails_before_starting_anything(capsys, monkeypatch):
    from tuneline.zenml_ext import serving

    started = []
    monkeypatch.setattr(serving, "start_server", lambda *a: started.append(a))
    assert main(["serve", "up", "--ip", "0.0.0.0"]) == 2
    assert not started
    assert "refusing to serve on 0.0.0.0" in capsys.readouterr().err
    with pytest.raises(ServeError, match="not an IP address"):
        check_address("my-laptop", expose=False)


def test_serve_up_configs_sets_the_form_menus_even_after_the_launchers_were_imported(tmp_path, monkeypatch):
    import shutil
    import typing

    from tuneline_app import forms, launchers
    from tuneline_app.serve import launchers_for

    monkeypatch.delenv(forms.CONFIGS_ENV, raising=False)
    project = launchers.config_dir()
    shutil.copy(project / "dataset.yaml", tmp_path / "mine.yaml")

    def menu(pipelines) -> tuple:
        hints = typing.get_type_hints(pipelines["tuneline-build-dataset"].entrypoint)
        return typing.get_args(hints["config"])

    assert "mine" not in menu(launchers.LAUNCHERS)  # imported with the project's configs/
    assert menu(launchers_for(tmp_path)) == ("mine",)
    import tuneline_app.launchers as now  # what a deployment's source resolves to in this process
    assert now.CONFIG_DIR == tmp_path.resolve() and os.environ[forms.CONFIGS_ENV] == str(tmp_path.resolve())
    back = menu(launchers_for(None))  # given no folder again: the project's configs/
    assert "dataset" in back and "mine" not in back and forms.CONFIGS_ENV not in os.environ
