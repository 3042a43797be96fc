"""Fixtures of the deploy tests: the image, built once per session and
shared by the container and compose tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.podman import Podman, podman_session


@pytest.fixture(scope="session")
def podman_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Podman, str]]:
    """(podman, image name): deploy/docker/Dockerfile built on a Debian base."""
    yield from podman_session(tmp_path_factory.mktemp("podman"))


@pytest.fixture
def podman(podman_image: tuple[Podman, str]) -> Iterator[Podman]:
    """Podman whose containers and volumes this test made are removed after it."""
    session, _ = podman_image
    mine = Podman(session.conf)
    try:
        yield mine
    finally:
        mine.cleanup()
