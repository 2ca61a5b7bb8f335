from omo.devstack import system


def test_missing_package_without_apt_is_a_clear_warning_and_the_run_goes_on(monkeypatch, capsys):
    never = system.Need("fonts-imaginary", "Chinese glyphs in receipts", lambda: False)
    monkeypatch.setattr(system.shutil, "which", lambda name: None)  # a machine without apt-get
    assert system.ensure([never]) == [never]
    out = capsys.readouterr().out
    assert "WARNING: fonts-imaginary is missing" in out and "Chinese glyphs in receipts" in out


def test_present_packages_install_nothing(monkeypatch):
    calls: list[object] = []
    monkeypatch.setattr(system.subprocess, "run", lambda *a, **k: calls.append(a))
    assert system.ensure([system.Need("ok", "why", lambda: True)]) == []
    assert calls == []


def test_the_chinese_font_is_installed_here():
    """make test installs fonts-noto-cjk when it is missing; receipts need it."""
    assert system.cjk_font_present()
