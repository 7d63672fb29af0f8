"""`tuneline serve`'s address check: the local server has no login, so it stays on loopback."""

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
