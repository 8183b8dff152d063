"""Shared by every test pytest collects here: the docstring examples (``src/cupola``) run in a fresh
temporary folder of their own, so an example writes its files under plain names (``frame.dng``)
and leaves nothing behind in the checkout."""

import pytest


@pytest.fixture(autouse=True)
def _doctest_in_temporary_folder(request: pytest.FixtureRequest) -> None:
    if isinstance(request.node, pytest.DoctestItem):
        request.getfixturevalue("monkeypatch").chdir(request.getfixturevalue("tmp_path"))
